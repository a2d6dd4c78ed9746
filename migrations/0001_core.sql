-- 0001_core: the factory's core tables.
-- Why: every ticket is an XState machine persisted as rows; the journal is the source of truth for
-- what happened, so it is append-only and its sequence is contiguous per ticket (UNIQUE(ticket, seq)).
-- Artifacts are immutable content rows and an approved plan can never change: the database, not the
-- application, enforces both, so no code path (or agent) can quietly move the finish line.

create schema if not exists loopwright;

create table loopwright.repositories (
  id bigint generated always as identity primary key,
  name text not null unique check (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
  path text not null,
  base_branch text not null default 'main',
  test_cmd text,
  live_cmd text,
  check_cmds text[] not null default '{}',
  concurrency integer not null default 2 check (concurrency between 1 and 64),
  mode text not null default 'dark' check (mode in ('copilot', 'dark')),
  settings jsonb not null default '{}',
  next_ticket_number integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table loopwright.batches (
  id bigint generated always as identity primary key,
  name text not null unique check (length(name) between 1 and 100),
  status text not null default 'open' check (status in ('open', 'stopped', 'done')),
  pins jsonb,
  pinned_at timestamptz,
  created_at timestamptz not null default now()
);

create table loopwright.tickets (
  id bigint generated always as identity primary key,
  key text not null unique,
  repo_id bigint not null references loopwright.repositories (id),
  number integer not null,
  batch_id bigint references loopwright.batches (id),
  origin_ticket_id bigint references loopwright.tickets (id),
  title text not null check (length(btrim(title)) between 1 and 500),
  body text not null default '',
  priority integer not null default 0,
  tags text[] not null default '{}',
  state text not null,
  substate text,
  snapshot jsonb not null,
  version integer not null check (version >= 1),
  machine_version text not null,
  current_run_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  state_changed_at timestamptz not null default now(),
  unique (repo_id, number)
);
create index tickets_state_idx on loopwright.tickets (state, priority desc, created_at);
create index tickets_repo_state_idx on loopwright.tickets (repo_id, state);
create index tickets_batch_idx on loopwright.tickets (batch_id) where batch_id is not null;

create table loopwright.ticket_dependencies (
  ticket_id bigint not null references loopwright.tickets (id),
  depends_on_id bigint not null references loopwright.tickets (id),
  created_at timestamptz not null default now(),
  primary key (ticket_id, depends_on_id),
  check (ticket_id <> depends_on_id)
);
create index ticket_dependencies_reverse_idx on loopwright.ticket_dependencies (depends_on_id);

-- One row per accepted event. seq = the ticket's version after the event; row 1 is the creation.
create table loopwright.ticket_events (
  id bigint generated always as identity primary key,
  ticket_id bigint not null references loopwright.tickets (id),
  seq integer not null check (seq >= 1),
  event_type text not null,
  event jsonb not null,
  from_state text,
  to_state text not null,
  actor text not null,
  idempotency_key text,
  snapshot jsonb not null,
  actions jsonb not null default '[]',
  created_at timestamptz not null default now(),
  unique (ticket_id, seq),
  unique (ticket_id, idempotency_key)
);

-- Events that were not applied (not accepted in the state, stale run, stale timer), for audit.
create table loopwright.rejected_events (
  id bigint generated always as identity primary key,
  ticket_id bigint not null references loopwright.tickets (id),
  event_type text not null,
  event jsonb not null,
  state text not null,
  version integer not null,
  actor text not null,
  reason text not null,
  idempotency_key text,
  created_at timestamptz not null default now(),
  unique (ticket_id, idempotency_key)
);
create index rejected_events_ticket_idx on loopwright.rejected_events (ticket_id, created_at);

create table loopwright.artifacts (
  id bigint generated always as identity primary key,
  ticket_id bigint not null references loopwright.tickets (id),
  kind text not null check (kind in ('plan', 'plan_review', 'approved_plan', 'task', 'report', 'verdict', 'gate_result', 'transcript', 'note')),
  run_id uuid,
  content text not null,
  content_type text not null default 'text/markdown',
  sha256 text not null,
  created_at timestamptz not null default now()
);
create index artifacts_ticket_idx on loopwright.artifacts (ticket_id, kind, id);

create function loopwright.forbid_change() returns trigger language plpgsql as $$
begin
  raise exception using
    errcode = 'LW001',
    message = format('%s rows are immutable (%s refused)', tg_table_name, lower(tg_op)),
    hint = 'append a new row instead';
end;
$$;

-- The database computes the digest itself, so a stored sha256 always matches the stored content.
create function loopwright.artifact_digest() returns trigger language plpgsql as $$
begin
  new.sha256 := encode(sha256(convert_to(new.content, 'UTF8')), 'hex');
  return new;
end;
$$;

create trigger artifacts_digest before insert on loopwright.artifacts
  for each row execute function loopwright.artifact_digest();
create trigger artifacts_immutable before update on loopwright.artifacts
  for each row execute function loopwright.forbid_change();
create trigger approved_plan_undeletable before delete on loopwright.artifacts
  for each row when (old.kind = 'approved_plan') execute function loopwright.forbid_change();
create trigger journal_append_only before update or delete on loopwright.ticket_events
  for each row execute function loopwright.forbid_change();

-- Orchestrator processes (`loopwright run`), with a heartbeat the sweeper watches.
create table loopwright.pools (
  id uuid primary key,
  host text not null,
  pid integer not null,
  concurrency integer not null default 1,
  version text not null,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now(),
  stopped_at timestamptz
);

create table loopwright.agent_runs (
  id uuid primary key,
  ticket_id bigint not null references loopwright.tickets (id),
  seq integer not null,
  role text not null check (role in ('lead', 'generator', 'validator')),
  phase text not null,
  attempt integer not null default 0,
  round integer not null default 0,
  status text not null default 'queued'
    check (status in ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'superseded')),
  provider text,
  model text,
  pool_id uuid references loopwright.pools (id),
  host text,
  pid integer,
  pgid integer,
  process_started_at text,
  started_at timestamptz,
  finished_at timestamptz,
  exit_code integer,
  signal text,
  cost_usd numeric(12, 6),
  tokens_in bigint,
  tokens_out bigint,
  transcript_path text,
  error text,
  created_at timestamptz not null default now()
);
create index agent_runs_ticket_idx on loopwright.agent_runs (ticket_id, created_at);
create index agent_runs_active_idx on loopwright.agent_runs (status) where status in ('queued', 'running');

-- External side effects (open PR, merge, tracker write), keyed ticket:seq:action so a retried job
-- never repeats one.
create table loopwright.effects (
  key text primary key,
  ticket_id bigint not null references loopwright.tickets (id),
  kind text not null,
  status text not null default 'pending' check (status in ('pending', 'done', 'failed')),
  result jsonb,
  created_at timestamptz not null default now(),
  completed_at timestamptz
);
