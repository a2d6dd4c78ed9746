-- 0003_runtime: what `loopwright run` needs to survive crashes.
-- Why: a pool's heartbeat alone cannot tell a dead process from a slow one on another machine; on the
-- same host the sweeper also compares the process start time, so a reused pid is never mistaken for
-- a live pool. Worktrees are tracked so those of final tickets are removed instead of filling disks.

alter table loopwright.pools add column process_started_at text;
-- graphile-worker's own worker-pool ids (what it writes into jobs.locked_by), so the sweeper can
-- force-unlock exactly a dead pool's jobs.
alter table loopwright.pools add column worker_ids text[] not null default '{}';

create table loopwright.workspaces (
  ticket_id bigint primary key references loopwright.tickets (id),
  repo_id bigint not null references loopwright.repositories (id),
  path text not null,
  branch text not null,
  base_commit text not null,
  status text not null default 'active' check (status in ('active', 'removed')),
  created_at timestamptz not null default now(),
  removed_at timestamptz
);
