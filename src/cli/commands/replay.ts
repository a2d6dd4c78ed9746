/**
 * `loopwright replay <ticket> [--from <seq>]`: re-issue the work a ticket's state implies (after a
 * job was lost), or rewind the ticket to an earlier journal row. Replaying while work is pending
 * dispatches nothing — that is the point, and it is success.
 */
import { getTicket } from '../../db/tickets.js';
import { applyEvent } from '../../engine/apply-event.js';
import { rewindTicket } from '../../engine/rewind.js';
import { BadInputError } from '../../errors.js';
import { expectPositionals, parseCommandArgs, parseInteger } from '../args.js';
import type { CliContext, Command } from '../command.js';
import { printError, printJson, printJsonError, printLine } from '../output.js';
import { describeApplied, outcomeJson } from './operator-events.js';

async function replayCurrent(ctx: CliContext, key: string, json: boolean): Promise<number> {
  const { state } = await getTicket(await ctx.db(), key);
  if (state === 'LIVE' || state === 'CANCELLED')
    throw new BadInputError(`${key} is ${state} (final): there is no work to replay`, {
      code: 'TICKET_FINAL',
    });
  const outcome = await applyEvent(await ctx.db(), key, { type: 'REPLAY' }, { actor: ctx.actor() });
  if (json)
    printJson(ctx.io, { ...outcomeJson(outcome), dispatched: outcome.status === 'applied' });
  if (outcome.status === 'applied') {
    if (!json)
      printLine(ctx.io, `${describeApplied(outcome)}: re-issued ${outcome.jobIds.length} job(s)`);
    return 0;
  }
  if (outcome.reason === 'WORK_PENDING') {
    if (!json) printLine(ctx.io, `${outcome.key}: nothing dispatched, ${outcome.detail}`);
    return 0;
  }
  const why =
    outcome.reason === 'NOT_ACCEPTED'
      ? `${outcome.key} is ${outcome.state}, which implies no work to replay`
      : outcome.detail;
  if (json) printJsonError(ctx.io, outcome.status === 'rejected' ? outcome.reason : 'FAILURE', why);
  else printError(ctx.io, why);
  // A state that takes no REPLAY is the caller asking for the impossible: bad input.
  return outcome.reason === 'NOT_ACCEPTED' ? 2 : 1;
}

async function rewind(
  ctx: CliContext,
  key: string,
  seq: number,
  reason: string | undefined,
  json: boolean,
  force: boolean,
): Promise<number> {
  const outcome = await rewindTicket(await ctx.db(), key, seq, {
    actor: ctx.actor(),
    force,
    ...(reason ? { reason } : {}),
  });
  if (json) {
    printJson(ctx.io, {
      status: 'applied',
      ticket: outcome.key,
      seq: outcome.seq,
      rewound_to: outcome.rewoundTo,
      from_state: outcome.fromState,
      to_state: outcome.toState,
      substate: outcome.substate,
      run_id: outcome.runId,
      jobs: outcome.jobIds.length,
      withdrawn_jobs: outcome.withdrawnJobs,
    });
  } else {
    const to = outcome.substate ? `${outcome.toState}.${outcome.substate}` : outcome.toState;
    printLine(
      ctx.io,
      `${outcome.key}: rewound to row ${outcome.rewoundTo}, now ${to} (row ${outcome.seq}); ` +
        `withdrew ${outcome.withdrawnJobs} pending job(s), issued ${outcome.jobIds.length}`,
    );
  }
  return 0;
}

export const command: Command = {
  name: 'replay',
  summary: "re-issue a ticket's lost work, or rewind it to an earlier row",
  usage: `usage:
  loopwright replay <ticket> [--json]
  loopwright replay <ticket> --from <seq> [--reason TEXT] [--force] [--json]

Without --from: re-issues the work the ticket's current state implies, with a fresh run id.
  When work is already pending nothing is dispatched (exit 0), so replaying twice is safe.
  A state that implies no work (ESCALATED, BLOCKED, LIVE, ...) exits 2, naming the state.
With --from: appends a REWIND row putting the ticket back where journal row <seq> left it,
  withdraws queued work of the abandoned branch and issues that row's work again.
  A LIVE or CANCELLED ticket is final: rewinding it needs --force (else exit 2).`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      from: { type: 'string' },
      reason: { type: 'string' },
      force: { type: 'boolean' },
    });
    const [key] = expectPositionals(positionals, ['<ticket>']);
    const from = parseInteger('--from', values.from, { min: 1 });
    if (from === undefined && values.reason !== undefined)
      throw new BadInputError('--reason applies only with --from');
    const json = values.json === true;
    return from === undefined
      ? replayCurrent(ctx, key!, json)
      : rewind(ctx, key!, from, values.reason?.trim(), json, values.force === true);
  },
};
