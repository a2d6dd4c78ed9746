/**
 * The operator's actions: `approve`, `retry`, `reject`, `cancel` and `replay`. Each is the CLI's
 * command path — one event through `applyEvent` (or `rewindTicket` for replay with fromSeq) —
 * journaled with the session's actor `operator:mcp:<client>`. A state that does not take the
 * event is a tool error saying why (and, as with the CLI, a rejected_events row for audit).
 */
import { z } from 'zod';
import type { TicketEventInput } from '../../../machines/ticket.js';
import { applyEvent, type ApplyOutcome } from '../../engine/apply-event.js';
import { rewindTicket } from '../../engine/rewind.js';
import { BadInputError } from '../../errors.js';
import { reason, ticketKey } from '../inputs.js';
import { answer, defineTool, type McpTool, type ToolAnswer } from '../tool.js';

type OperatorEvent = 'APPROVE' | 'RETRY' | 'REJECT' | 'CANCEL';

/** The refusal as one line, or the applied outcome as an answer. */
function report(outcome: ApplyOutcome, extra: Record<string, unknown> = {}): ToolAnswer {
  if (outcome.status === 'rejected')
    throw new BadInputError(`${outcome.key} (${outcome.state}): ${outcome.detail}`, {
      code: outcome.reason,
    });
  const to = outcome.substate ? `${outcome.toState}.${outcome.substate}` : outcome.toState;
  return answer(
    {
      status: 'applied',
      ticket: outcome.key,
      seq: outcome.seq,
      fromState: outcome.fromState,
      toState: outcome.toState,
      substate: outcome.substate,
      runId: outcome.runId,
      jobs: outcome.jobIds.length,
      ...extra,
    },
    `${outcome.key}: ${outcome.fromState ?? '(new)'} -> ${to} (row ${outcome.seq})`,
  );
}

function operatorTool(
  name: string,
  type: OperatorEvent,
  description: string,
  destructive: boolean,
): McpTool {
  return defineTool({
    name,
    title: `${type} a ticket`,
    description,
    input: z.object({ ticket: ticketKey, reason: reason.optional() }).strict(),
    readOnly: false,
    destructive,
    async run(input, ctx) {
      const event = (input.reason ? { type, reason: input.reason } : { type }) as TicketEventInput;
      return report(await applyEvent(await ctx.db(), input.ticket, event, { actor: ctx.actor }));
    },
  });
}

export const approve = operatorTool(
  'approve',
  'APPROVE',
  'APPROVE: an escalated ticket moves past the gate that stopped it; a copilot ticket ' +
    'awaiting approval in SHIP is merged. Refused (tool error) in any other state.',
  false,
);
export const retry = operatorTool(
  'retry',
  'RETRY',
  'RETRY: an escalated or dead-lettered ticket returns to the phase it left with fresh ' +
    'counters and budget.',
  false,
);
export const reject = operatorTool(
  'reject',
  'REJECT',
  'REJECT: an escalated ticket, or one awaiting approval in SHIP, is cancelled.',
  true,
);
export const cancel = operatorTool(
  'cancel',
  'CANCEL',
  'CANCEL: the ticket ends CANCELLED and its workspace is released.',
  true,
);

export const replay = defineTool({
  name: 'replay',
  title: "Replay a ticket's work",
  description:
    "Without fromSeq: re-issue the work the ticket's current state implies (after a lost " +
    'job); when work is already pending nothing is dispatched (dispatched: false, not an ' +
    'error). With fromSeq: rewind the ticket to where journal row fromSeq left it ' +
    '(show_ticket lists rows).',
  input: z
    .object({
      ticket: ticketKey,
      fromSeq: z.number().int().min(1).optional(),
      reason: reason.optional(),
    })
    .strict(),
  readOnly: false,
  async run(input, ctx) {
    const db = await ctx.db();
    if (input.fromSeq === undefined) {
      if (input.reason !== undefined) throw new BadInputError('reason applies only with fromSeq');
      const outcome = await applyEvent(db, input.ticket, { type: 'REPLAY' }, { actor: ctx.actor });
      if (outcome.status === 'rejected' && outcome.reason === 'WORK_PENDING')
        return answer(
          { status: 'rejected', ticket: outcome.key, dispatched: false, detail: outcome.detail },
          `${outcome.key}: nothing dispatched, ${outcome.detail}`,
        );
      if (outcome.status === 'rejected' && outcome.reason === 'NOT_ACCEPTED')
        throw new BadInputError(
          `${outcome.key} is ${outcome.state}, which implies no work to replay`,
        );
      return report(outcome, { dispatched: true });
    }
    const outcome = await rewindTicket(db, input.ticket, input.fromSeq, {
      actor: ctx.actor,
      ...(input.reason ? { reason: input.reason } : {}),
    });
    const to = outcome.substate ? `${outcome.toState}.${outcome.substate}` : outcome.toState;
    return answer(
      {
        status: 'applied',
        ticket: outcome.key,
        seq: outcome.seq,
        rewoundTo: outcome.rewoundTo,
        fromState: outcome.fromState,
        toState: outcome.toState,
        substate: outcome.substate,
        runId: outcome.runId,
        jobs: outcome.jobIds.length,
        withdrawnJobs: outcome.withdrawnJobs,
      },
      `${outcome.key}: rewound to row ${outcome.rewoundTo}, now ${to} (row ${outcome.seq})`,
    );
  },
});

export const OPERATOR_TOOLS: readonly McpTool[] = [approve, retry, reject, cancel, replay];
