-- Integrations (GitHub pull requests, Linear issues, notifications).

-- Every accepted webhook delivery, stored before it is acted on. A delivery id seen twice is a
-- replay and is refused (the unique key), so a duplicate can never act twice.
create table loopwright.webhook_deliveries (
  id bigint generated always as identity primary key,
  source text not null check (source in ('github', 'linear')),
  delivery_id text not null check (length(delivery_id) between 1 and 200),
  event text not null check (length(event) between 1 and 100),
  payload jsonb not null,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  outcome text,
  unique (source, delivery_id)
);

-- A ticket's counterpart in an external system: its Linear issue, its GitHub pull request.
create table loopwright.ticket_links (
  ticket_id bigint not null references loopwright.tickets (id),
  system text not null check (system in ('github', 'linear')),
  external_id text not null check (length(external_id) between 1 and 200),
  external_key text,
  url text,
  data jsonb not null default '{}',
  -- The journal seq whose phase was last reflected in the external system.
  synced_seq integer not null default 0,
  created_at timestamptz not null default now(),
  primary key (ticket_id, system),
  unique (system, external_id)
);

-- Conditional-request state of the polling fallback (ETags, backoff), one row per polled resource.
create table loopwright.poll_state (
  key text primary key,
  etag text,
  failures integer not null default 0,
  next_poll_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Followers of the journal (tracker sync, notifications) remember how far they have read.
create table loopwright.integration_cursors (
  name text primary key,
  position bigint not null default 0,
  updated_at timestamptz not null default now()
);

-- Notifications about a batch belong to no ticket.
alter table loopwright.effects alter column ticket_id drop not null;
