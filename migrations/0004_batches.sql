-- 0004_batches: the done-oracle's tripwire, and the process tag of agent runs.
-- Why: a batch pins the sha256 of everything that defines "done" for it (gate settings, validator
-- charter, oracle version) when it starts; a change stops the batch until a human repins it. Repins
-- (and other batch-level human actions) are journaled with their actor, like ticket events.

alter table loopwright.batches add column stop_reason text;

-- Some agent tools (Claude Code's Bash) start commands in a session of their own, out of reach of
-- the run's process group; every agent process carries LOOPWRIGHT_PROCESS_TAG=<tag> so the reaper
-- can find those too after a crash.
alter table loopwright.agent_runs add column process_tag text;

create table loopwright.batch_events (
  id bigint generated always as identity primary key,
  batch_id bigint not null references loopwright.batches (id),
  event_type text not null check (event_type in ('PINNED', 'VERIFIER_CHANGED', 'REPINNED')),
  actor text not null,
  reason text,
  pins jsonb,
  changed text[] not null default '{}',
  created_at timestamptz not null default now()
);
create index batch_events_batch_idx on loopwright.batch_events (batch_id, id);

create trigger batch_events_append_only before update or delete on loopwright.batch_events
  for each row execute function loopwright.forbid_change();
