/**
 * What `run --until-idle` says when it stops: how many tickets are LIVE, and every ticket that
 * waits for a person (escalated, dead-lettered, awaiting approval or a clean checkout) with its
 * reason and detail. Read-only.
 */
import { sql } from 'kysely';
import type { Kdb } from './connection.js';

export interface WaitingTicket {
  readonly key: string;
  readonly repo: string;
  readonly state: string;
  readonly substate: string | null;
  readonly reason: string | null;
  readonly detail: string | null;
}

export interface RunSummaryRows {
  readonly counts: Record<string, number>;
  readonly waiting: WaitingTicket[];
}

/** States that wait for a person; SHIP only in the substates named. */
const PERSON_SUBSTATES = ['awaiting_approval', 'waiting_checkout', 'awaiting_merge'];

export async function runSummaryRows(db: Kdb): Promise<RunSummaryRows> {
  const counts = await sql<{ state: string; n: number }>`
    select state, count(*)::int as n from loopwright.tickets group by state order by state`.execute(
    db,
  );
  const waiting = await sql<WaitingTicket>`
    select t.key, r.name as repo, t.state, t.substate,
           t.snapshot -> 'context' ->> 'reason' as reason,
           t.snapshot -> 'context' ->> 'detail' as detail
    from loopwright.tickets t join loopwright.repositories r on r.id = t.repo_id
    where t.state in ('ESCALATED', 'DEAD_LETTER')
       or (t.state = 'SHIP' and t.substate = any(${PERSON_SUBSTATES}::text[]))
    order by t.id`.execute(db);
  return {
    counts: Object.fromEntries(counts.rows.map((r) => [r.state, r.n])),
    waiting: waiting.rows,
  };
}

/** Journal rows after `afterId` (for one progress line per phase change), oldest first. */
export async function journalSince(
  db: Kdb,
  afterId: string,
  limit = 200,
): Promise<
  {
    id: string;
    key: string;
    repo: string;
    event: string;
    from: string | null;
    to: string;
    substate: string | null;
    actor: string;
    reason: string | null;
  }[]
> {
  const { rows } = await sql<{
    id: string;
    key: string;
    repo: string;
    event: string;
    from: string | null;
    to: string;
    substate: string | null;
    actor: string;
    reason: string | null;
  }>`
    select e.id::text as id, t.key, r.name as repo, e.event_type as event, e.from_state as from,
           e.to_state as to,
           case when jsonb_typeof(e.snapshot -> 'value') = 'object'
             then e.snapshot -> 'value' ->> e.to_state end as substate,
           e.actor,
           case when e.to_state in ('ESCALATED', 'DEAD_LETTER')
             then e.snapshot -> 'context' ->> 'reason' end as reason
    from loopwright.ticket_events e
    join loopwright.tickets t on t.id = e.ticket_id
    join loopwright.repositories r on r.id = t.repo_id
    where e.id > ${afterId}::bigint
    order by e.id limit ${limit}`.execute(db);
  return rows;
}

/** The newest journal row id (progress starts after it). */
export async function lastJournalId(db: Kdb): Promise<string> {
  const { rows } = await sql<{ id: string }>`
    select coalesce(max(id), 0)::text as id from loopwright.ticket_events`.execute(db);
  return rows[0]?.id ?? '0';
}
