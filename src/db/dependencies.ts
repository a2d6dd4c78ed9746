/**
 * Ticket dependency edges ("A depends on B": A waits until B is LIVE). Edges are added under a
 * transaction-scoped advisory lock so two concurrent writers can never close a cycle between them.
 */
import { sql } from 'kysely';
import { DependencyCycleError } from '../errors.js';
import type { Kdb } from './connection.js';

/** Serializes dependency writes across all processes ("lw" + "dep"). */
const DEPENDENCY_LOCK_KEY = 0x6c77646570;

/**
 * Add edges `ticketId -> each of dependsOnIds`, refusing any that would close a cycle.
 * Must run inside a transaction.
 */
export async function addDependencies(
  trx: Kdb,
  ticketId: string,
  dependsOnIds: readonly string[],
): Promise<void> {
  if (dependsOnIds.length === 0) return;
  await sql`select pg_advisory_xact_lock(${DEPENDENCY_LOCK_KEY})`.execute(trx);
  for (const dependsOn of dependsOnIds) {
    const cycle = await findPath(trx, dependsOn, ticketId);
    if (cycle) throw new DependencyCycleError([...(await keysOf(trx, [ticketId])), ...cycle]);
  }
  await trx
    .insertInto('loopwright.ticket_dependencies')
    .values(dependsOnIds.map((id) => ({ ticket_id: ticketId, depends_on_id: id })))
    .onConflict((oc) => oc.doNothing())
    .execute();
}

/**
 * Keys along a dependency path from `from` to `to` (following "depends on"), or null when `to` is
 * not reachable.
 */
export async function findPath(trx: Kdb, from: string, to: string): Promise<string[] | null> {
  if (from === to) return keysOf(trx, [from]);
  const result = await sql<{ path: string[] }>`
    with recursive walk(id, path) as (
      select ${from}::bigint, array[${from}::bigint]
      union all
      select d.depends_on_id, w.path || d.depends_on_id
      from walk w join loopwright.ticket_dependencies d on d.ticket_id = w.id
      where not d.depends_on_id = any(w.path)
    )
    select path::text[] as path from walk where id = ${to}::bigint limit 1`.execute(trx);
  const path = result.rows[0]?.path;
  return path ? keysOf(trx, path) : null;
}

async function keysOf(trx: Kdb, ids: readonly string[]): Promise<string[]> {
  const rows = await trx
    .selectFrom('loopwright.tickets')
    .select(['id', 'key'])
    .where('id', 'in', ids)
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r.key]));
  return ids.map((id) => byId.get(id) ?? `#${id}`);
}

export interface DependencyRow {
  readonly key: string;
  readonly state: string;
}

/** What a ticket waits for, with each dependency's state. */
export async function dependenciesOf(db: Kdb, ticketId: string): Promise<DependencyRow[]> {
  return db
    .selectFrom('loopwright.ticket_dependencies as d')
    .innerJoin('loopwright.tickets as t', 't.id', 'd.depends_on_id')
    .select(['t.key', 't.state'])
    .where('d.ticket_id', '=', ticketId)
    .orderBy('t.key')
    .execute();
}

/** Which tickets wait for this one. */
export async function dependentsOf(db: Kdb, ticketId: string): Promise<DependencyRow[]> {
  return db
    .selectFrom('loopwright.ticket_dependencies as d')
    .innerJoin('loopwright.tickets as t', 't.id', 'd.ticket_id')
    .select(['t.key', 't.state'])
    .where('d.depends_on_id', '=', ticketId)
    .orderBy('t.key')
    .execute();
}
