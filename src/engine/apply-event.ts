/**
 * applyEvent: the one place a ticket changes state (DESIGN.md section 3).
 *
 * One READ COMMITTED transaction: lock the ticket row, answer a repeated idempotency key with the
 * first outcome, fence results of stale runs, run the pure machine transition, append the journal
 * row with the next contiguous seq, update the ticket, and enqueue the implied jobs — all of it
 * commits or none of it does. Events the current state does not accept change nothing and are
 * recorded as rejected.
 *
 * A ticket this process moved last is known (src/engine/known-tickets.ts): its event is judged
 * against the remembered row and written by one fenced statement, which writes nothing unless the
 * row is still that version. When another writer came first, the statement returns the row as it
 * is and the event is judged and tried once more on it (two statements, as the locked way costs);
 * a key with an outcome, an event the row refuses, or a row that keeps moving go the locked way
 * above, so the result is the same either way.
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
import type pg from 'pg';
import { backoffMs, isTransientDbError, pause } from '../db/availability.js';
import { type Kdb, poolOf } from '../db/connection.js';
import { isSerializationFailure, mapDbError } from '../db/errors.js';
import { recordRejectedStatement } from '../db/journal.js';
import {
  fencedWriteTicketRowStatement,
  type LockedTicketRow,
  lockTicket,
  type FencedWrite,
  type PriorOutcome,
} from '../db/ticket-rows.js';
import type { StoredAction } from '../db/schema.js';
import type { TicketRef } from '../db/tickets.js';
import { kyselySession, queryAloneAnnounced, type TxSession } from '../db/tx-session.js';
import { announceStatement } from '../db/announce.js';
import { BadInputError } from '../errors.js';
import { restoreSnapshot, transitionTicket } from './snapshot.js';
import {
  type CommittedRow,
  commitPlannedRow,
  planTicketRow,
  type RowChange,
} from './commit-row.js';
import {
  forgetTicket,
  type KnownTicket,
  knownFrom,
  knownTicket,
  lockedRowOf,
  rememberTicket,
} from './known-tickets.js';
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
  // The test seam writes inside the transaction, after the row the write returns: not a row to
  // remember. REPLAY reads the pending work under the lock.
  const pool = options.afterWrite ? undefined : poolOf(db);
  for (let attempt = 0; ; attempt++) {
    try {
      const known = pool && event.type !== 'REPLAY' ? knownTicket(pool, ref) : undefined;
      const fast = pool && known ? await applyKnown(pool, known, event, options) : undefined;
      if (fast) return fast;
      const locked = await inSession(db, (session) =>
        applyParsedEvent(session, ref, event, options),
      );
      if (pool) rememberTicket(pool, locked.known());
      return locked.outcome;
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
  return (await applyParsedEvent(kyselySession(trx), ref, parseEvent(input), options)).outcome;
}

/** An outcome and the ticket row as it stands after it. */
interface Judged {
  readonly outcome: ApplyOutcome;
  /** Made only when asked: a caller's transaction has no use for it. */
  readonly known: () => KnownTicket;
}

async function applyParsedEvent(
  session: TxSession,
  ref: TicketRef,
  event: TicketEvent,
  options: ApplyEventOptions,
): Promise<Judged> {
  const { ticket, xmin, prior } = await lockTicket(session, ref, options.idempotencyKey ?? null);
  const unchanged = (outcome: ApplyOutcome): Judged => ({
    outcome,
    known: () => knownFrom(ticket, xmin),
  });
  if (prior) return unchanged(previousOutcome(ticket, prior));
  const { refusal, snapshot } = judge(ticket, event, options);
  if (refusal) return unchanged(await reject(session, ticket, event, options, refusal));
  if (event.type === 'REPLAY') {
    const pending = await pendingWork(session.kdb, ticket.id);
    if (pending.length > 0) {
      const detail = describePending(pending[0]!);
      return unchanged(
        await reject(session, ticket, event, options, { reason: 'WORK_PENDING', detail }),
      );
    }
  }
  const plan = planTicketRow(ticket, changeOf(snapshot, event, options));
  const { committed, known } = await commitPlannedRow(session, plan, options.afterWrite);
  return { outcome: { status: 'applied', duplicate: false, ...committed }, known: () => known };
}

/**
 * The event on the row this process last saw, in one statement; undefined when it must go the
 * locked way (the event is refused, the key has an outcome, or the row kept moving). A row that
 * moved on is returned by the statement that missed it, and tried once more: a ticket another
 * process moved last costs two statements, as the locked way does.
 */
async function applyKnown(
  pool: pg.Pool,
  known: KnownTicket,
  event: TicketEvent,
  options: ApplyEventOptions,
): Promise<ApplyOutcome | undefined> {
  let guess = known;
  for (let attempt = 1; ; attempt++) {
    const ticket = lockedRowOf(guess);
    const { refusal, snapshot } = judge(ticket, event, options);
    if (refusal) return undefined;
    const plan = planTicketRow(ticket, changeOf(snapshot, event, options));
    const statement = fencedWriteTicketRowStatement(plan.write, guess.xmin);
    const announce = announceStatement(ticket.id, plan.write.jobs.length);
    let result: FencedWrite | undefined;
    try {
      [result] = await queryAloneAnnounced<FencedWrite>(pool, statement, announce);
    } catch (error) {
      if (!isSerializationFailure(error)) throw mapDbError(error);
    }
    if (result && result.xmin !== null) {
      rememberTicket(pool, { ...plan.next, xmin: result.xmin });
      return { status: 'applied', duplicate: false, ...plan.outcome, jobIds: result.jobIds };
    }
    const current = result?.current;
    if (!result || !current || result.answered || attempt >= FENCED_TRIES) {
      forgetTicket(pool, guess);
      return undefined;
    }
    const { xmin, ...row } = current;
    guess = knownFrom(row, xmin);
    rememberTicket(pool, guess);
  }
}

/** Fenced writes of one event before it goes the locked way. */
const FENCED_TRIES = 2;

type Restored = ReturnType<typeof restoreSnapshot>;

function changeOf(snapshot: Restored, event: TicketEvent, options: ApplyEventOptions): RowChange {
  const [next, actions] = transitionTicket(snapshot, event);
  return {
    eventType: event.type,
    event: event as unknown as Record<string, unknown>,
    snapshot: { value: next.value, context: { ...next.context } },
    context: next.context as TicketContext,
    actions,
    actor: options.actor,
    idempotencyKey: options.idempotencyKey ?? null,
  };
}

/**
 * Why the ticket refuses the event as it stands (stale version or run, not accepted), or the
 * restored snapshot to move.
 */
function judge(
  ticket: LockedTicketRow,
  event: TicketEvent,
  options: ApplyEventOptions,
): { refusal: Refusal; snapshot?: undefined } | { refusal: null; snapshot: Restored } {
  const fence = checkFences(ticket, event, options);
  if (fence) return { refusal: fence };
  const snapshot = restoreSnapshot(ticket.snapshot);
  if (snapshot.can(event)) return { refusal: null, snapshot };
  const detail = `${event.type} is not accepted in ${describeState(snapshot.value)}`;
  return { refusal: { reason: 'NOT_ACCEPTED', detail } };
}

interface Refusal {
  readonly reason: RejectReason;
  readonly detail: string;
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

function checkFences(
  ticket: LockedTicketRow,
  event: TicketEvent,
  options: ApplyEventOptions,
): Refusal | null {
  if (options.expectedVersion !== undefined && options.expectedVersion !== ticket.version) {
    return {
      reason: 'STALE_VERSION',
      detail: `expected version ${options.expectedVersion}, ticket is at ${ticket.version}`,
    };
  }
  if (isRunResult(event) && event.runId !== ticket.current_run_id) {
    return {
      reason: 'STALE_RUN',
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
  { reason, detail }: Refusal,
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
