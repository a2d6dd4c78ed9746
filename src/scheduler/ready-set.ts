/**
 * The ready set (DESIGN.md section 6): QUEUED tickets whose dependencies are all LIVE, by priority
 * then age, with what limits their start (per-repo concurrency, the infra lane).
 */
import { sql } from 'kysely';
import type { Kdb } from '../db/connection.js';

/** States in which a ticket occupies a slot (an agent or the orchestrator is working on it). */
export const ACTIVE_STATES = [
  'PLAN_DRAFT',
  'PLAN_NEGOTIATE',
  'PLAN_APPROVED',
  'RED',
  'BUILD',
  'VALIDATE',
  'SHIP',
] as const;

export interface ReadyTicket {
  readonly id: string;
  readonly key: string;
  readonly repoId: string;
  readonly repoConcurrency: number;
  readonly infra: boolean;
  readonly batchId: string | null;
}

/** QUEUED tickets whose every dependency is LIVE (and whose batch is not stopped), best first. */
export async function readyTickets(db: Kdb, limit = 200): Promise<ReadyTicket[]> {
  const { rows } = await sql<ReadyTicket>`
    select t.id, t.key, t.repo_id as "repoId", r.concurrency as "repoConcurrency",
      'infra' = any(t.tags) as infra, t.batch_id as "batchId"
    from loopwright.tickets t
    join loopwright.repositories r on r.id = t.repo_id
    left join loopwright.batches b on b.id = t.batch_id
    where t.state = 'QUEUED'
      and (b.id is null or b.status = 'open')
      and not exists (
        select 1 from loopwright.ticket_dependencies d
        join loopwright.tickets dep on dep.id = d.depends_on_id
        where d.ticket_id = t.id and dep.state <> 'LIVE')
    order by t.priority desc, t.created_at, t.id
    limit ${limit}`.execute(db);
  return rows;
}

export interface Occupancy {
  readonly total: number;
  readonly perRepo: ReadonlyMap<string, number>;
  readonly infra: number;
}

/** How many tickets hold a slot now, overall, per repo and in the infra lane. */
export async function occupancy(db: Kdb): Promise<Occupancy> {
  const { rows } = await sql<{ repo_id: string; n: number; infra: number }>`
    select repo_id, count(*)::int as n, count(*) filter (where 'infra' = any(tags))::int as infra
    from loopwright.tickets where state = any(${[...ACTIVE_STATES]}::text[])
    group by repo_id`.execute(db);
  return {
    total: rows.reduce((a, r) => a + r.n, 0),
    perRepo: new Map(rows.map((r) => [r.repo_id, r.n])),
    infra: rows.reduce((a, r) => a + r.infra, 0),
  };
}
