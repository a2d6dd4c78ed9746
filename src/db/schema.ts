/**
 * Kysely's view of the `loopwright` schema (migrations/). Column types mirror the SQL; keep them
 * in step with every new migration.
 */
import type { ColumnType, Generated, JSONColumnType } from 'kysely';

// Insert may omit it (column default) or give a Date or ISO string.
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T extends object | null> = JSONColumnType<T, T | string, T | string>;
/** A jsonb column with a default: inserts may omit it. */
type JsonWithDefault<T extends object> = ColumnType<T, T | string | undefined, T | string>;
type Numeric = ColumnType<
  string | null,
  number | string | null | undefined,
  number | string | null
>;

export interface RepositoriesTable {
  id: Generated<string>;
  name: string;
  path: string;
  base_branch: Generated<string>;
  test_cmd: string | null;
  live_cmd: string | null;
  check_cmds: Generated<string[]>;
  concurrency: Generated<number>;
  mode: Generated<'copilot' | 'dark'>;
  settings: JsonWithDefault<Record<string, unknown>>;
  next_ticket_number: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Set by `repo remove` when tickets keep the row (migrations/0007_repo_removed.sql). */
  removed_at: Generated<Date | null>;
}

export interface BatchesTable {
  id: Generated<string>;
  name: string;
  status: Generated<'open' | 'stopped' | 'done'>;
  pins: Json<Record<string, string>> | null;
  pinned_at: Timestamp | null;
  created_at: Timestamp;
  stop_reason: string | null;
}

export interface BatchEventsTable {
  id: Generated<string>;
  batch_id: string;
  event_type: 'PINNED' | 'VERIFIER_CHANGED' | 'REPINNED';
  actor: string;
  reason: string | null;
  pins: Json<Record<string, string>> | null;
  changed: ColumnType<string[], string[] | undefined, string[]>;
  created_at: Timestamp;
}

export interface TicketsTable {
  id: Generated<string>;
  key: string;
  repo_id: string;
  number: number;
  batch_id: string | null;
  origin_ticket_id: string | null;
  title: string;
  body: Generated<string>;
  priority: Generated<number>;
  tags: Generated<string[]>;
  state: string;
  substate: string | null;
  snapshot: Json<PersistedSnapshot>;
  version: number;
  machine_version: string;
  current_run_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  state_changed_at: Timestamp;
}

export interface TicketDependenciesTable {
  ticket_id: string;
  depends_on_id: string;
  created_at: Timestamp;
}

export interface TicketEventsTable {
  id: Generated<string>;
  ticket_id: string;
  seq: number;
  event_type: string;
  event: Json<Record<string, unknown>>;
  from_state: string | null;
  to_state: string;
  actor: string;
  idempotency_key: string | null;
  snapshot: Json<PersistedSnapshot>;
  actions: Json<StoredAction[]>;
  created_at: Timestamp;
}

export interface RejectedEventsTable {
  id: Generated<string>;
  ticket_id: string;
  event_type: string;
  event: Json<Record<string, unknown>>;
  state: string;
  version: number;
  actor: string;
  reason: string;
  idempotency_key: string | null;
  created_at: Timestamp;
}

export type ArtifactKind =
  | 'plan'
  | 'plan_review'
  | 'approved_plan'
  | 'task'
  | 'report'
  | 'verdict'
  | 'gate_result'
  | 'transcript'
  | 'note';

export interface ArtifactsTable {
  id: Generated<string>;
  ticket_id: string;
  kind: ArtifactKind;
  run_id: string | null;
  content: string;
  content_type: Generated<string>;
  /** Computed by the database on insert (trigger); never written by the app. */
  sha256: ColumnType<string, never, never>;
  created_at: Timestamp;
}

export interface PoolsTable {
  id: string;
  host: string;
  pid: number;
  concurrency: Generated<number>;
  version: string;
  started_at: Timestamp;
  heartbeat_at: Timestamp;
  stopped_at: Timestamp | null;
  process_started_at: string | null;
  worker_ids: Generated<string[]>;
}

export interface WorkspacesTable {
  ticket_id: string;
  repo_id: string;
  path: string;
  branch: string;
  base_commit: string;
  status: Generated<'active' | 'removed'>;
  created_at: Timestamp;
  removed_at: Timestamp | null;
}

export type RunStatus =
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'timed_out'
  | 'cancelled'
  | 'superseded';

export interface AgentRunsTable {
  id: string;
  ticket_id: string;
  seq: number;
  role: 'lead' | 'generator' | 'validator';
  phase: string;
  attempt: Generated<number>;
  round: Generated<number>;
  status: Generated<RunStatus>;
  provider: string | null;
  model: string | null;
  pool_id: string | null;
  host: string | null;
  pid: number | null;
  pgid: number | null;
  process_started_at: string | null;
  process_tag: string | null;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  exit_code: number | null;
  signal: string | null;
  cost_usd: Numeric;
  tokens_in: ColumnType<string | null, number | null | undefined, number | null>;
  tokens_out: ColumnType<string | null, number | null | undefined, number | null>;
  transcript_path: string | null;
  error: string | null;
  created_at: Timestamp;
}

export interface EffectsTable {
  key: string;
  /** Null for effects that belong to no ticket (a batch's notification). */
  ticket_id: string | null;
  kind: string;
  status: Generated<'pending' | 'done' | 'failed'>;
  result: Json<object> | null;
  created_at: Timestamp;
  completed_at: Timestamp | null;
}

/** What the journal and the tickets row store of a machine snapshot. */
export interface PersistedSnapshot {
  readonly value: unknown;
  readonly context: Record<string, unknown>;
}

/** A work action as the journal stores it: what the machine asked for, before it became a job. */
export interface StoredAction {
  readonly type: string;
  readonly params?: Record<string, unknown>;
}

export interface Database {
  'loopwright.repositories': RepositoriesTable;
  'loopwright.batches': BatchesTable;
  'loopwright.tickets': TicketsTable;
  'loopwright.ticket_dependencies': TicketDependenciesTable;
  'loopwright.ticket_events': TicketEventsTable;
  'loopwright.rejected_events': RejectedEventsTable;
  'loopwright.artifacts': ArtifactsTable;
  'loopwright.pools': PoolsTable;
  'loopwright.agent_runs': AgentRunsTable;
  'loopwright.effects': EffectsTable;
  'loopwright.workspaces': WorkspacesTable;
  'loopwright.batch_events': BatchEventsTable;
  'loopwright.webhook_deliveries': WebhookDeliveriesTable;
  'loopwright.ticket_links': TicketLinksTable;
  'loopwright.poll_state': PollStateTable;
  'loopwright.integration_cursors': IntegrationCursorsTable;
}

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  source: 'github' | 'linear';
  delivery_id: string;
  event: string;
  payload: Json<object>;
  received_at: Timestamp;
  processed_at: Timestamp | null;
  outcome: string | null;
}

export interface TicketLinksTable {
  ticket_id: string;
  system: 'github' | 'linear';
  external_id: string;
  external_key: string | null;
  url: string | null;
  data: JsonWithDefault<Record<string, unknown>>;
  synced_seq: Generated<number>;
  created_at: Timestamp;
}

export interface PollStateTable {
  key: string;
  etag: string | null;
  failures: Generated<number>;
  next_poll_at: Timestamp;
  updated_at: Timestamp;
}

export interface IntegrationCursorsTable {
  name: string;
  position: Generated<string>;
  updated_at: Timestamp;
}
