/**
 * What `run --until-idle` says when it stops: how many tickets are LIVE, and every ticket that
 * waits for a person (escalated, dead-lettered, awaiting approval or a clean checkout) with its
 * reason and detail. Read-only.
 */
import { type RawBuilder, sql } from 'kysely';
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

/** One journal row as progress shows it: who moved, from where to where, by which run. */
export interface JournalMove {
  readonly id: string;
  readonly key: string;
  readonly repo: string;
  readonly event: string;
  readonly from: string | null;
  /** The substate the ticket left (the previous row's), when it had one. */
  readonly fromSubstate: string | null;
  readonly to: string;
  readonly substate: string | null;
  readonly actor: string;
  readonly reason: string | null;
  /** The run whose result this row is (null for the scheduler's and operators' events). */
  readonly run: string | null;
  /** That run's agent provider (claude, codex, ...), null for orchestrator runs. */
  readonly provider: string | null;
}

/** Journal rows after `afterId` (for one progress line per phase change), oldest first. */
export async function journalSince(db: Kdb, afterId: string, limit = 200): Promise<JournalMove[]> {
  const { rows } = await sql<JournalMove>`
    select e.id::text as id, t.key, r.name as repo, e.event_type as event, e.from_state as from,
           ${substateOf(sql.ref('p.snapshot'), sql.ref('p.to_state'))} as "fromSubstate",
           e.to_state as to,
           ${substateOf(sql.ref('e.snapshot'), sql.ref('e.to_state'))} as substate,
           e.actor,
           case when e.to_state in ('ESCALATED', 'DEAD_LETTER')
             then e.snapshot -> 'context' ->> 'reason' end as reason,
           e.event ->> 'runId' as run, ar.provider
    from loopwright.ticket_events e
    join loopwright.tickets t on t.id = e.ticket_id
    join loopwright.repositories r on r.id = t.repo_id
    left join loopwright.ticket_events p on p.ticket_id = e.ticket_id and p.seq = e.seq - 1
    left join loopwright.agent_runs ar on ar.id::text = e.event ->> 'runId'
    where e.id > ${afterId}::bigint
    order by e.id limit ${limit}`.execute(db);
  return rows;
}

/** A snapshot's substate of its top-level state (`PLAN_NEGOTIATE` -> `critique`), or null. */
function substateOf(snapshot: RawBuilder<unknown>, state: RawBuilder<unknown>) {
  return sql`case when jsonb_typeof(${snapshot} -> 'value') = 'object'
    then ${snapshot} -> 'value' ->> ${state} end`;
}

/** The newest journal row id (progress starts after it). */
export async function lastJournalId(db: Kdb): Promise<string> {
  const { rows } = await sql<{ id: string }>`
    select coalesce(max(id), 0)::text as id from loopwright.ticket_events`.execute(db);
  return rows[0]?.id ?? '0';
}
