/**
 * Factory statistics from the journal and the run table: human interventions, agent runs and cost
 * per ticket, time spent per phase, and false starts (retries, gate failures, dead letters).
 */
import { sql } from 'kysely';
import type { Kdb } from './connection.js';

export interface FactoryStats {
  readonly tickets: number;
  readonly interventions: readonly { event: string; count: number }[];
  readonly perTicket: readonly {
    ticket: string;
    state: string;
    agentRuns: number;
    costUsd: number;
    interventions: number;
  }[];
  readonly timePerPhase: readonly {
    state: string;
    tickets: number;
    avgSeconds: number;
    totalSeconds: number;
  }[];
  readonly falseStarts: readonly { kind: string; count: number }[];
}

/** Human actions that steer a ticket (filing tickets and notes are input, not interventions). */
const INTERVENTIONS = ['APPROVE', 'RETRY', 'REJECT', 'CANCEL', 'REPLAY', 'REWIND'];

/** Statistics over every ticket, or over one batch's. */
export async function factoryStats(db: Kdb, batchId: string | null): Promise<FactoryStats> {
  const scope = batchId === null ? sql`true` : sql`t.batch_id = ${batchId}::bigint`;
  const interventions = await sql<{ event: string; count: number }>`
    select e.event_type as event, count(*)::int as count
    from loopwright.ticket_events e join loopwright.tickets t on t.id = e.ticket_id
    where ${scope} and e.actor like 'operator:%' and e.event_type = any(${INTERVENTIONS}::text[])
    group by e.event_type
    union all
    select 'REPIN', count(*)::int from loopwright.batch_events b
    where b.event_type = 'REPINNED' and (${batchId}::bigint is null
      or b.batch_id = ${batchId}::bigint)
    order by event`.execute(db);
  const perTicket = await sql<{
    ticket: string;
    state: string;
    agentRuns: number;
    costUsd: number;
    interventions: number;
  }>`
    select t.key as ticket, t.state,
      (select count(*)::int from loopwright.agent_runs r where r.ticket_id = t.id) as "agentRuns",
      (select coalesce(sum(r.cost_usd), 0)::float8 from loopwright.agent_runs r
        where r.ticket_id = t.id) as "costUsd",
      (select count(*)::int from loopwright.ticket_events e where e.ticket_id = t.id and e.actor
        like 'operator:%' and e.event_type = any(${INTERVENTIONS}::text[])) as interventions
    from loopwright.tickets t where ${scope} order by t.id`.execute(db);
  const timePerPhase = await sql<{
    state: string;
    tickets: number;
    avgSeconds: number;
    totalSeconds: number;
  }>`
    with spans as (
      select e.ticket_id, e.to_state as state,
        extract(epoch from coalesce(lead(e.created_at) over w, case when e.to_state in ('LIVE',
          'CANCELLED') then e.created_at else now() end) - e.created_at) as seconds
      from loopwright.ticket_events e join loopwright.tickets t on t.id = e.ticket_id
      where ${scope}
      window w as (partition by e.ticket_id order by e.seq)
    ), per_ticket as (select ticket_id, state, sum(seconds) as seconds from spans
      group by ticket_id, state)
    select state, count(*)::int as tickets, round(avg(seconds)::numeric, 1)::float8
      as "avgSeconds", round(sum(seconds)::numeric, 1)::float8 as "totalSeconds"
    from per_ticket where state not in ('LIVE', 'CANCELLED') group by state order by state`.execute(
    db,
  );
  const falseStarts = await sql<{ kind: string; count: number }>`
    select kind, count(*)::int as count from (
      select case
        when e.event_type = 'REPORT_INVALID' then 'report invalid (fresh agent)'
        when e.event_type = 'GATE_FAILED' then 'gate failed: ' || (e.event ->> 'reason')
        when e.event_type = 'VERDICT' and e.event ->> 'verdict' = 'FAIL' then 'validator FAIL'
        when e.event_type = 'AGENT_TIMEOUT' then 'agent timeout'
        when e.event_type = 'AGENT_UNAVAILABLE' then 'agent unavailable: ' || (e.event ->> 'reason')
        when e.event_type = 'JOB_FAILED' then 'job failed: ' || (e.event ->> 'reason')
        when e.to_state = 'DEAD_LETTER' and e.from_state <> 'DEAD_LETTER' then 'dead letter'
        when e.to_state = 'ESCALATED' and e.from_state <> 'ESCALATED' then 'escalation'
      end as kind
      from loopwright.ticket_events e join loopwright.tickets t on t.id = e.ticket_id where ${scope}
      union all
      select 'stale run result rejected' from loopwright.rejected_events r
        join loopwright.tickets t on t.id = r.ticket_id
      where ${scope} and r.reason like 'STALE_RUN%'
    ) k where kind is not null group by kind order by kind`.execute(db);
  return {
    tickets: perTicket.rows.length,
    interventions: interventions.rows.filter((r) => r.count > 0),
    perTicket: perTicket.rows,
    timePerPhase: timePerPhase.rows,
    falseStarts: falseStarts.rows,
  };
}
