/**
 * applyEvent: the one place a ticket changes state (DESIGN.md section 3).
 *
 * One READ COMMITTED transaction: lock the ticket row, answer a repeated idempotency key with the
 * first outcome, fence results of stale runs, run the pure machine transition, append the journal
 * row with the next contiguous seq, update the ticket, and enqueue the implied jobs — all of it
 * commits or none of it does. Events the current state does not accept change nothing and are
 * recorded as rejected.
 */
import {
  isRunResult,
  ticketEventSchema,
  topState,
  subState,
  type TicketContext,
  type TicketEvent,
  type TicketEventInput,
} from '../../machines/ticket.js';
import { backoffMs, isTransientDbError, pause } from '../db/availability.js';
import type { Kdb } from '../db/connection.js';
import { recordRejectedStatement } from '../db/journal.js';
import { type LockedTicketRow, lockTicket, type PriorOutcome } from '../db/ticket-rows.js';
import type { StoredAction } from '../db/schema.js';
import type { TicketRef } from '../db/tickets.js';
import { kyselySession, type TxSession } from '../db/tx-session.js';
import { BadInputError } from '../errors.js';
import { restoreSnapshot, transitionTicket } from './snapshot.js';
import { commitTicketRow, type CommittedRow } from './commit-row.js';
import { pendingWork, type PendingJob } from './work.js';
import { inSession } from './transaction.js';

/** Why an event was not applied. */
export type RejectReason = 'NOT_ACCEPTED' | 'STALE_RUN' | 'STALE_VERSION' | 'WORK_PENDING';

export interface ApplyEventOptions {
  /**
   * Who sent the event: `operator:<name>`, `agent:<run>`, `scheduler`, `timer`, `worker:<pool>`.
   */
  readonly actor: string;
  /** A repeated key returns the first outcome and changes nothing. */
  readonly idempotencyKey?: string;
  /** Apply only if the ticket is still at this version (timers, checks of a moment). */
  readonly expectedVersion?: number;
  /** Test seam: runs after the journal row, ticket and jobs are written, before the commit. */
  readonly afterWrite?: (trx: Kdb) => Promise<void>;
}

export type ApplyOutcome =
  | ({ readonly status: 'applied'; readonly duplicate: boolean } & CommittedRow)
  | {
      readonly status: 'rejected';
      readonly duplicate: boolean;
      readonly ticketId: string;
      readonly key: string;
      readonly state: string;
      readonly version: number;
      readonly reason: RejectReason;
      readonly detail: string;
    };

/**
 * Apply one event to one ticket.
 *
 * @example
 * ```ts
 * const outcome = await applyEvent(
 *   db,
 *   'app-12',
 *   { type: 'START' },
 *   { actor: 'scheduler', idempotencyKey: 'start:app-12' },
 * );
 * if (outcome.status === 'rejected') console.warn(outcome.reason, outcome.detail);
 * ```
 */
export async function applyEvent(
  db: Kdb,
  ref: TicketRef,
  input: TicketEventInput,
  options: ApplyEventOptions,
): Promise<ApplyOutcome> {
  const event = parseEvent(input);
  for (let attempt = 0; ; attempt++) {
    try {
      return await inSession(db, (session) => applyParsedEvent(session, ref, event, options));
    } catch (error) {
      // The connection went mid-transaction: with a key, repeating is safe — if the first try
      // committed after all, the repeat answers with its outcome. Connects wait on their own
      // in `run` (a patient pool), so a few tries cover an outage of any length.
      if (!options.idempotencyKey || attempt >= OUTAGE_RETRIES || !isTransientDbError(error))
        throw error;
      await pause(backoffMs(attempt));
    }
  }
}

/** How often a keyed event is re-sent after losing its connection. */
const OUTAGE_RETRIES = 8;

/**
 * The same, on a transaction the caller already holds (e.g. the scheduler's, which starts several
 * tickets under one lock). The caller commits.
 */
export async function applyEventIn(
  trx: Kdb,
  ref: TicketRef,
  input: TicketEventInput,
  options: ApplyEventOptions,
): Promise<ApplyOutcome> {
  return applyParsedEvent(kyselySession(trx), ref, parseEvent(input), options);
}

async function applyParsedEvent(
  session: TxSession,
  ref: TicketRef,
  event: TicketEvent,
  options: ApplyEventOptions,
): Promise<ApplyOutcome> {
  const { ticket, prior } = await lockTicket(session, ref, options.idempotencyKey ?? null);
  if (prior) return previousOutcome(ticket, prior);
  const fence = checkFences(ticket, event, options);
  if (fence) return reject(session, ticket, event, options, fence.reason, fence.detail);
  const snapshot = restoreSnapshot(ticket.snapshot);
  if (!snapshot.can(event)) {
    return reject(
      session,
      ticket,
      event,
      options,
      'NOT_ACCEPTED',
      `${event.type} is not accepted in ${describeState(snapshot.value)}`,
    );
  }
  if (event.type === 'REPLAY') {
    const pending = await pendingWork(session.kdb, ticket.id);
    if (pending.length > 0)
      return reject(session, ticket, event, options, 'WORK_PENDING', describePending(pending[0]!));
  }
  const [next, actions] = transitionTicket(snapshot, event);
  const committed = await commitTicketRow(session, ticket, {
    eventType: event.type,
    event: event as unknown as Record<string, unknown>,
    // Serialised once, by the write (JSON drops what jsonb could not store anyway).
    snapshot: { value: next.value, context: { ...next.context } },
    context: next.context as TicketContext,
    actions,
    actor: options.actor,
    idempotencyKey: options.idempotencyKey ?? null,
    afterWrite: options.afterWrite,
  });
  return { status: 'applied', duplicate: false, ...committed };
}

/** Validate an event at the boundary; a malformed one is bad input and touches nothing. */
export function parseEvent(input: TicketEventInput | unknown): TicketEvent {
  const parsed = ticketEventSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new BadInputError(`invalid event${where}: ${issue?.message ?? 'malformed'}`);
  }
  return parsed.data;
}

function previousOutcome(ticket: LockedTicketRow, prior: PriorOutcome): ApplyOutcome {
  if (prior.kind === 'applied') {
    return {
      status: 'applied',
      duplicate: true,
      ticketId: ticket.id,
      key: ticket.key,
      seq: prior.seq!,
      fromState: prior.fromState,
      toState: prior.toState!,
      substate: subState(prior.snapshot!.value),
      runId: null,
      jobIds: [],
      actions: prior.actions as StoredAction[],
    };
  }
  return {
    status: 'rejected',
    duplicate: true,
    ticketId: ticket.id,
    key: ticket.key,
    state: prior.state!,
    version: prior.version!,
    reason: prior.reason!.split(':')[0] as RejectReason,
    detail: prior.reason!,
  };
}

function checkFences(ticket: LockedTicketRow, event: TicketEvent, options: ApplyEventOptions) {
  if (options.expectedVersion !== undefined && options.expectedVersion !== ticket.version) {
    return {
      reason: 'STALE_VERSION' as const,
      detail: `expected version ${options.expectedVersion}, ticket is at ${ticket.version}`,
    };
  }
  if (isRunResult(event) && event.runId !== ticket.current_run_id) {
    return {
      reason: 'STALE_RUN' as const,
      detail:
        `run ${event.runId} is not the ticket's current run ` +
        `(${ticket.current_run_id ?? 'none'})`,
    };
  }
  return null;
}

function describePending(job: PendingJob): string {
  return (
    `work already pending: ${job.task} job ${job.id} ` +
    `(${job.lockedBy ? `running on ${job.lockedBy}` : 'queued'})`
  );
}

async function reject(
  session: TxSession,
  ticket: LockedTicketRow,
  event: TicketEvent,
  options: ApplyEventOptions,
  reason: RejectReason,
  detail: string,
): Promise<ApplyOutcome> {
  await session.queryAndCommit(
    recordRejectedStatement({
      ticketId: ticket.id,
      eventType: event.type,
      event,
      state: ticket.state,
      version: ticket.version,
      actor: options.actor,
      reason: `${reason}: ${detail}`,
      idempotencyKey: options.idempotencyKey ?? null,
    }),
  );
  return {
    status: 'rejected',
    duplicate: false,
    ticketId: ticket.id,
    key: ticket.key,
    state: ticket.state,
    version: ticket.version,
    reason,
    detail,
  };
}

function describeState(value: unknown): string {
  const top = topState(value);
  const sub = subState(value);
  return sub ? `${top}.${sub}` : top;
}
