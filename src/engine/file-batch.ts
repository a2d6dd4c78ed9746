/**
 * Filing a planned set of tickets at once: each ticket has a local name, dependencies on others of
 * the set by those names (or on tickets already filed, by key), and they all join one batch. The
 * whole set is validated first — duplicate or unknown local names, dependency cycles — and then
 * filed in ONE transaction (batch row if new, ticket rows, edges, journal rows, scheduling jobs):
 * every ticket is filed or none is.
 */
import { getBatchByName, insertBatch } from '../db/batches.js';
import type { Kdb } from '../db/connection.js';
import { BadInputError, DependencyCycleError, LoopwrightError, NotFoundError } from '../errors.js';
import { createTicketIn, type CreatedTicket } from './create-ticket.js';
import { inTransaction } from './transaction.js';

/** One ticket of a planned set. */
export interface PlannedTicket {
  /** Unique within the set; what `dependsOn` of the others refers to. */
  readonly name: string;
  readonly repo: string;
  readonly title: string;
  readonly body?: string;
  readonly priority?: number;
  readonly tags?: readonly string[];
  /** Local names of tickets of this set that must be LIVE first. */
  readonly dependsOn?: readonly string[];
  /** Keys of tickets filed earlier that must be LIVE first. */
  readonly dependsOnTickets?: readonly string[];
}

export interface PlannedBatch {
  readonly batch: string;
  readonly tickets: readonly PlannedTicket[];
  readonly actor: string;
}

export interface FiledTicket extends CreatedTicket {
  readonly name: string;
  readonly repo: string;
  readonly title: string;
  /** Keys this ticket depends on. */
  readonly dependsOn: readonly string[];
}

export interface FiledBatch {
  readonly batch: string;
  /** False when the batch existed and the tickets joined it. */
  readonly batchCreated: boolean;
  /** In filing order: every ticket after the ones it depends on. */
  readonly tickets: readonly FiledTicket[];
}

/** Most tickets one call may file. */
export const MAX_PLANNED_TICKETS = 100;

/**
 * Validate and file a planned set in one transaction.
 *
 * @example
 * ```ts
 * await fileTicketBatch(db, { batch: 'login', actor: 'operator:mcp:claude-code', tickets: [
 *   { name: 'api', repo: 'app', title: 'POST /login' },
 *   { name: 'ui', repo: 'app', title: 'Login form', dependsOn: ['api'] },
 * ] });
 * ```
 */
export async function fileTicketBatch(db: Kdb, plan: PlannedBatch): Promise<FiledBatch> {
  const order = fileOrder(plan.tickets);
  return inTransaction(db, async (trx) => {
    const existing = await getBatchByName(trx, plan.batch).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    if (!existing) await insertBatch(trx, plan.batch);
    const keys = new Map<string, string>();
    const filed: FiledTicket[] = [];
    for (const ticket of order) {
      const dependsOn = [
        ...(ticket.dependsOn ?? []).map((n) => keys.get(n)!),
        ...(ticket.dependsOnTickets ?? []),
      ];
      const created = await createTicketIn(trx, {
        repo: ticket.repo,
        title: ticket.title,
        actor: plan.actor,
        batch: plan.batch,
        dependsOn,
        ...(ticket.body === undefined ? {} : { body: ticket.body }),
        ...(ticket.priority === undefined ? {} : { priority: ticket.priority }),
        ...(ticket.tags === undefined ? {} : { tags: ticket.tags }),
      }).catch((error: unknown) => {
        throw error instanceof LoopwrightError && !(error instanceof DependencyCycleError)
          ? new BadInputError(`ticket "${ticket.name}": ${error.message}`, { code: error.code })
          : error;
      });
      keys.set(ticket.name, created.key);
      filed.push({
        ...created,
        name: ticket.name,
        repo: ticket.repo,
        title: ticket.title,
        dependsOn,
      });
    }
    return { batch: plan.batch, batchCreated: !existing, tickets: filed };
  });
}

/**
 * The tickets in an order where each comes after everything it depends on; throws for an empty or
 * oversized set, duplicate or unknown local names, and cycles (naming one).
 */
export function fileOrder(tickets: readonly PlannedTicket[]): PlannedTicket[] {
  if (tickets.length === 0) throw new BadInputError('no tickets to file');
  if (tickets.length > MAX_PLANNED_TICKETS)
    throw new BadInputError(
      `at most ${MAX_PLANNED_TICKETS} tickets per call, got ${tickets.length}`,
    );
  const byName = new Map<string, PlannedTicket>();
  for (const t of tickets) {
    if (byName.has(t.name)) throw new BadInputError(`duplicate local name: ${t.name}`);
    byName.set(t.name, t);
  }
  for (const t of tickets)
    for (const dep of t.dependsOn ?? [])
      if (!byName.has(dep))
        throw new BadInputError(
          `ticket "${t.name}" depends on unknown local name "${dep}" ` +
            `(known: ${[...byName.keys()].join(', ')})`,
        );
  const order: PlannedTicket[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: PlannedTicket, path: string[]): void => {
    const seen = state.get(t.name);
    if (seen === 'done') return;
    if (seen === 'visiting')
      throw new DependencyCycleError([...path.slice(path.indexOf(t.name)), t.name]);
    state.set(t.name, 'visiting');
    for (const dep of new Set(t.dependsOn ?? [])) visit(byName.get(dep)!, [...path, t.name]);
    state.set(t.name, 'done');
    order.push(t);
  };
  for (const t of tickets) visit(t, []);
  return order;
}
