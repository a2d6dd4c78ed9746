/**
 * The operator's events: `approve`, `retry`, `reject`, `cancel` and `note`. Each applies one event
 * through the engine with actor `operator:<name>`; when the machine refuses it, one line says why
 * and the exit code is 2 (the refusal is journaled as a rejected event for audit).
 */
import type { TicketEventInput } from '../../../machines/ticket.js';
import { applyEvent, type ApplyOutcome } from '../../engine/apply-event.js';
import { BadInputError } from '../../errors.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { CliContext, Command } from '../command.js';
import { printError, printJson, printJsonError, printLine } from '../output.js';

type OperatorEvent = 'APPROVE' | 'RETRY' | 'REJECT' | 'CANCEL';

/** An outcome as `--json` prints it. */
export function outcomeJson(outcome: ApplyOutcome) {
  if (outcome.status === 'rejected') {
    return {
      status: outcome.status,
      ticket: outcome.key,
      state: outcome.state,
      version: outcome.version,
      reason: outcome.reason,
      detail: outcome.detail,
    };
  }
  return {
    status: outcome.status,
    ticket: outcome.key,
    seq: outcome.seq,
    from_state: outcome.fromState,
    to_state: outcome.toState,
    substate: outcome.substate,
    run_id: outcome.runId,
    jobs: outcome.jobIds.length,
  };
}

/** `app-3: ESCALATED -> SHIP.merging (row 9)` */
export function describeApplied(outcome: Extract<ApplyOutcome, { status: 'applied' }>): string {
  const to = outcome.substate ? `${outcome.toState}.${outcome.substate}` : outcome.toState;
  return `${outcome.key}: ${outcome.fromState ?? '(new)'} -> ${to} (row ${outcome.seq})`;
}

/** Apply an operator event and report it; exit 1 when the machine refuses it. */
async function applyAndReport(
  ctx: CliContext,
  key: string,
  event: TicketEventInput,
  json: boolean,
): Promise<number> {
  const outcome = await applyEvent(await ctx.db(), key, event, { actor: ctx.actor() });
  if (json) printJson(ctx.io, outcomeJson(outcome));
  if (outcome.status === 'rejected') {
    const why = `${outcome.key}: ${outcome.detail}`;
    if (json) printJsonError(ctx.io, outcome.reason, why);
    else printError(ctx.io, why);
    // The ticket's state cannot take this event: the request was impossible (exit 2).
    return outcome.reason === 'NOT_ACCEPTED' ? 2 : 1;
  }
  if (!json) printLine(ctx.io, describeApplied(outcome));
  return 0;
}

function operatorCommand(
  name: string,
  type: OperatorEvent,
  summary: string,
  explanation: string,
): Command {
  return {
    name,
    summary,
    usage: `usage: loopwright ${name} <ticket> [--reason TEXT] [--json]

${explanation}
Exits 2, naming the state, when the ticket's state does not accept ${type}.`,
    async run(args, ctx) {
      const { values, positionals } = parseCommandArgs(args, { reason: { type: 'string' } });
      const [key] = expectPositionals(positionals, ['<ticket>']);
      const reason = values.reason?.trim();
      if (values.reason !== undefined && !reason)
        throw new BadInputError('--reason must not be empty');
      const event = (reason ? { type, reason } : { type }) as TicketEventInput;
      return applyAndReport(ctx, key!, event, values.json === true);
    },
  };
}

export const approve = operatorCommand(
  'approve',
  'APPROVE',
  'let a waiting ticket past its gate (APPROVE)',
  'Sends APPROVE: an escalated ticket moves past the gate that stopped it; a copilot ' +
    'ticket\nawaiting approval in SHIP is merged.',
);
export const retry = operatorCommand(
  'retry',
  'RETRY',
  'send an escalated or dead-lettered ticket back to work (RETRY)',
  'Sends RETRY: the ticket returns to the phase it left with fresh counters and budget.',
);
export const reject = operatorCommand(
  'reject',
  'REJECT',
  'reject an escalated or awaiting ticket (REJECT)',
  'Sends REJECT: an escalated ticket, or one awaiting approval in SHIP, is cancelled.',
);
export const cancel = operatorCommand(
  'cancel',
  'CANCEL',
  'cancel a ticket (CANCEL)',
  'Sends CANCEL: the ticket ends CANCELLED and its workspace is released.',
);

export const note: Command = {
  name: 'note',
  summary: "add a note to a ticket's journal (NOTE)",
  usage: `usage: loopwright note <ticket> <text> [--json]

Appends a NOTE row to the ticket's journal; its state does not change.`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {});
    if (positionals.length < 2)
      throw new BadInputError(positionals.length === 0 ? 'missing <ticket>' : 'missing <text>');
    const [key, ...words] = positionals;
    const text = words.join(' ').trim();
    if (!text) throw new BadInputError('a note needs some text');
    return applyAndReport(ctx, key!, { type: 'NOTE', text }, values.json === true);
  },
};
