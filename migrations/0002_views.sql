-- 0002_views: the operator's read-only window (documented in README.md, "Watching with psql").
-- Why: "what is happening" must be a SQL query away, without the app. v_stuck's threshold comes from
-- the session setting loopwright.stuck_minutes (default 15) so operators can tune it per query.

create view loopwright.v_board as
select r.name as repo, t.state, count(*)::int as tickets, max(t.updated_at) as last_change
from loopwright.tickets t
join loopwright.repositories r on r.id = t.repo_id
group by r.name, t.state;

create view loopwright.v_runs as
select ar.id as run_id, t.key as ticket, ar.role, ar.phase, ar.attempt, ar.round, ar.status,
       ar.provider, ar.model, ar.host, ar.pid, ar.started_at, ar.finished_at,
       coalesce(ar.finished_at, now()) - ar.started_at as duration,
       ar.exit_code, ar.cost_usd, ar.tokens_in, ar.tokens_out, ar.transcript_path, ar.error
from loopwright.agent_runs ar
join loopwright.tickets t on t.id = ar.ticket_id;

create view loopwright.v_timeline as
select t.key as ticket, e.seq, e.created_at as at, e.event_type as event,
       e.from_state, e.to_state, e.actor,
       e.snapshot -> 'context' ->> 'reason' as reason,
       e.idempotency_key
from loopwright.ticket_events e
join loopwright.tickets t on t.id = e.ticket_id;

create view loopwright.v_stuck as
select t.key as ticket, r.name as repo, t.state, t.substate, t.version,
       t.updated_at as last_progress, now() - t.updated_at as idle_for
from loopwright.tickets t
join loopwright.repositories r on r.id = t.repo_id
where t.state not in ('LIVE', 'CANCELLED')
  and t.updated_at < now() - make_interval(mins => coalesce(nullif(current_setting('loopwright.stuck_minutes', true), '')::int, 15))
  and not exists (
    select 1 from loopwright.agent_runs ar
    where ar.ticket_id = t.id and ar.status = 'running'
  );
