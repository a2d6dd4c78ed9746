/**
 * What the console's board shows: one card per ticket (state, counters, age in state, the agent
 * running for it right now), filtered by repository and batch, plus per-state counts. Two queries
 * whatever the size of the factory: the cards, and the runs that are running.
 */
import { sql } from 'kysely';
import { TOP_STATES } from '../../machines/ticket.js';
import type { Kdb } from './connection.js';

/** What every list of tickets shows of one (the board's cards, the needs-a-person items). */
export interface TicketHeadline {
  readonly key: string;
  readonly title: string;
  readonly repo: string;
  readonly batch: string | null;
  readonly state: string;
  readonly substate: string | null;
}

/** One ticket as a board card. */
export interface BoardCard extends TicketHeadline {
  readonly id: string;
  readonly attempt: number | null;
  readonly round: number | null;
  readonly reason: string | null;
  readonly cost_usd: number | null;
  readonly state_changed_at: Date;
  readonly agent: RunningAgent | null;
}

/** The agent subprocess working for a ticket right now. */
export interface RunningAgent {
  readonly run_id: string;
  readonly role: string;
  readonly phase: string;
  readonly provider: string | null;
  readonly model: string | null;
  readonly started_at: Date | null;
  readonly cost_usd: number | null;
}

export interface BoardFilter {
  readonly repo?: string | undefined;
  readonly batch?: string | undefined;
  /** Cards per state, most recently moved first (counts are always complete). */
  readonly perState?: number;
}

export interface Board {
  readonly cards: readonly BoardCard[];
  readonly counts: Readonly<Record<string, number>>;
}

interface CardRow extends Omit<BoardCard, 'agent'> {}

function scope(filter: BoardFilter) {
  const repo = filter.repo === undefined ? sql`true` : sql`r.name = ${filter.repo}`;
  const batch = filter.batch === undefined ? sql`true` : sql`b.name = ${filter.batch}`;
  return sql`${repo} and ${batch}`;
}

const CARD_COLUMNS = sql`t.id::text as id, t.key, t.title, r.name as repo, b.name as batch,
  t.state, t.substate,
  (t.snapshot -> 'context' ->> 'attempt')::int as attempt,
  (t.snapshot -> 'context' ->> 'round')::int as round,
  t.snapshot -> 'context' ->> 'reason' as reason,
  (t.snapshot -> 'context' ->> 'costUsd')::float8 as cost_usd,
  t.state_changed_at`;

/**
 * The board: cards (at most `perState` per state, most recently moved first) and the full count
 * per state. One index probe per state (tickets_board_idx), so its cost follows the cards shown,
 * not the size of the factory.
 */
export async function loadBoard(db: Kdb, filter: BoardFilter = {}): Promise<Board> {
  const perState = filter.perState ?? 50;
  const [cards, counts, agents] = await Promise.all([
    perState === 0
      ? Promise.resolve({ rows: [] as CardRow[] })
      : sql<CardRow>`
      select ${CARD_COLUMNS}
      from unnest(${[...TOP_STATES]}::text[]) s(state)
      cross join lateral (
        select t.* from loopwright.tickets t
        join loopwright.repositories r on r.id = t.repo_id
        left join loopwright.batches b on b.id = t.batch_id
        where t.state = s.state and ${scope(filter)}
        order by t.state_changed_at desc, t.id desc
        limit ${perState}
      ) t
      join loopwright.repositories r on r.id = t.repo_id
      left join loopwright.batches b on b.id = t.batch_id`.execute(db),
    filter.repo === undefined && filter.batch === undefined
      ? sql<{ state: string; tickets: number }>`
      select state, count(*)::int as tickets from loopwright.tickets group by state`.execute(db)
      : sql<{ state: string; tickets: number }>`
      select t.state, count(*)::int as tickets
      from loopwright.tickets t
      join loopwright.repositories r on r.id = t.repo_id
      left join loopwright.batches b on b.id = t.batch_id
      where ${scope(filter)}
      group by t.state`.execute(db),
    perState === 0 ? Promise.resolve(new Map<string, RunningAgent>()) : runningAgents(db),
  ]);
  return {
    cards: cards.rows.map((row) => withAgent(row, agents)),
    counts: Object.fromEntries(counts.rows.map((c) => [c.state, c.tickets])),
  };
}

/** Cards for the given ticket ids (what the live feed re-renders when they change). */
export async function loadCards(db: Kdb, ids: readonly string[]): Promise<BoardCard[]> {
  if (ids.length === 0) return [];
  const [rows, agents] = await Promise.all([
    sql<CardRow>`
      select ${CARD_COLUMNS}
      from loopwright.tickets t
      join loopwright.repositories r on r.id = t.repo_id
      left join loopwright.batches b on b.id = t.batch_id
      where t.id = any(${ids.map(Number)}::bigint[])`.execute(db),
    runningAgents(db, ids),
  ]);
  return rows.rows.map((row) => withAgent(row, agents));
}

async function runningAgents(
  db: Kdb,
  ticketIds?: readonly string[],
): Promise<Map<string, RunningAgent>> {
  const only = ticketIds ? sql`and ticket_id = any(${ticketIds.map(Number)}::bigint[])` : sql``;
  const rows = await sql<RunningAgent & { ticket_id: string }>`
    select distinct on (ticket_id) ticket_id::text as ticket_id, id as run_id, role, phase,
      provider, model, started_at, cost_usd::float8 as cost_usd
    from loopwright.agent_runs
    where status = 'running' ${only}
    order by ticket_id, started_at desc nulls last`.execute(db);
  return new Map(rows.rows.map(({ ticket_id, ...agent }) => [ticket_id, agent]));
}

function withAgent(row: CardRow, agents: Map<string, RunningAgent>): BoardCard {
  return { ...row, agent: agents.get(row.id) ?? null };
}

/** Repository and batch names, for the board's filters. */
export async function boardFilters(db: Kdb): Promise<{ repos: string[]; batches: string[] }> {
  const [repos, batches] = await Promise.all([
    db.selectFrom('loopwright.repositories').select('name').orderBy('name').execute(),
    db.selectFrom('loopwright.batches').select('name').orderBy('name').execute(),
  ]);
  return { repos: repos.map((r) => r.name), batches: batches.map((b) => b.name) };
}

/** A ticket key's numeric id, or null (the live feed speaks in ids). */
export async function ticketIdOf(db: Kdb, key: string): Promise<string | null> {
  const row = await db
    .selectFrom('loopwright.tickets')
    .select('id')
    .where('key', '=', key)
    .executeTakeFirst();
  return row?.id ?? null;
}
