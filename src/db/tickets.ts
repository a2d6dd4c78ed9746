/**
 * Queries on the tickets table. Writes that change a ticket's state go through the engine
 * (src/engine/apply-event.ts), never directly.
 */
import { sql } from 'kysely';
import type { Insertable, Selectable } from 'kysely';
import { NotFoundError } from '../errors.js';
import type { Kdb } from './connection.js';
import type { Repository } from './repositories.js';
import type { RepositoriesTable, TicketsTable } from './schema.js';

export type Ticket = Selectable<TicketsTable>;
export type NewTicket = Insertable<TicketsTable>;

/** A ticket named by its key (`app-12`) or its numeric id. */
export type TicketRef = string | { readonly id: string };

/** Whether a ticket reference names the numeric id (else the key). */
export const isNumericId = (ref: string) => /^\d+$/.test(ref);

/** Load a ticket, optionally locking its row (`FOR UPDATE`) inside a transaction. */
export async function getTicket(
  db: Kdb,
  ref: TicketRef,
  options: { forUpdate?: boolean } = {},
): Promise<Ticket> {
  let query = db.selectFrom('loopwright.tickets').selectAll();
  query =
    typeof ref === 'object'
      ? query.where('id', '=', ref.id)
      : isNumericId(ref)
        ? query.where('id', '=', ref)
        : query.where('key', '=', ref);
  if (options.forUpdate) query = query.forUpdate();
  const ticket = await query.executeTakeFirst();
  if (!ticket) throw new NotFoundError('ticket', typeof ref === 'object' ? `#${ref.id}` : ref);
  return ticket;
}

export interface TicketFilter {
  readonly repo?: string;
  readonly state?: string;
  readonly batch?: string;
}

export interface TicketListRow {
  readonly key: string;
  readonly repo: string;
  readonly title: string;
  readonly state: string;
  readonly substate: string | null;
  readonly priority: number;
  readonly tags: string[];
  readonly version: number;
  readonly updated_at: Date;
}

/** Tickets by priority then age, optionally filtered by repo name, state and batch name. */
export async function listTickets(db: Kdb, filter: TicketFilter = {}): Promise<TicketListRow[]> {
  let query = db
    .selectFrom('loopwright.tickets as t')
    .innerJoin('loopwright.repositories as r', 'r.id', 't.repo_id')
    .leftJoin('loopwright.batches as b', 'b.id', 't.batch_id')
    .select([
      't.key',
      'r.name as repo',
      't.title',
      't.state',
      't.substate',
      't.priority',
      't.tags',
      't.version',
      't.updated_at',
    ]);
  if (filter.repo) query = query.where('r.name', '=', filter.repo);
  if (filter.state) query = query.where('t.state', '=', filter.state);
  if (filter.batch) query = query.where('b.name', '=', filter.batch);
  return query.orderBy('t.priority', 'desc').orderBy('t.created_at').orderBy('t.id').execute();
}

/** Board counts: tickets per repo and state. */
/** Tickets whose merge waits for the user's checkout of the base branch, with what to run. */
export async function waitingOnCheckout(db: Kdb): Promise<{ ticket: string; detail: string }[]> {
  const { rows } = await sql<{ ticket: string; detail: string | null }>`
    select key as ticket, snapshot -> 'context' ->> 'detail' as detail from loopwright.tickets
    where state = 'SHIP' and substate = 'waiting_checkout' order by key`.execute(db);
  return rows.map((r) => ({ ticket: r.ticket, detail: r.detail ?? '' }));
}

export async function boardCounts(
  db: Kdb,
): Promise<{ repo: string; state: string; tickets: number }[]> {
  const rows = await db
    .selectFrom('loopwright.tickets as t')
    .innerJoin('loopwright.repositories as r', 'r.id', 't.repo_id')
    .select(['r.name as repo', 't.state', (eb) => eb.fn.countAll<string>().as('tickets')])
    .groupBy(['r.name', 't.state'])
    .orderBy('r.name')
    .orderBy('t.state')
    .execute();
  return rows.map((r) => ({ ...r, tickets: Number(r.tickets) }));
}

/** The ticket's current run id (what fences results), or undefined when the ticket is gone. */
export async function currentRunIdOf(
  db: Kdb,
  ticketId: string,
): Promise<string | null | undefined> {
  const row = await db
    .selectFrom('loopwright.tickets')
    .select('current_run_id')
    .where('id', '=', ticketId)
    .executeTakeFirst();
  return row ? row.current_run_id : undefined;
}

/** Every column of a repository row, for reading one beside its ticket under prefixed names. */
const REPOSITORY_COLUMNS = [
  'id',
  'name',
  'path',
  'base_branch',
  'test_cmd',
  'live_cmd',
  'check_cmds',
  'concurrency',
  'mode',
  'settings',
  'next_ticket_number',
  'created_at',
  'updated_at',
  'removed_at',
] as const satisfies readonly (keyof RepositoriesTable)[];

/** The alias prefix of those columns (no ticket column starts with it). */
const PREFIX = 'repository__';

/** Compile-time: a column added to the table and not to the list above fails here. */
type EveryRepositoryColumn =
  Exclude<keyof RepositoriesTable, (typeof REPOSITORY_COLUMNS)[number]> extends never
    ? true
    : never;
export const EVERY_REPOSITORY_COLUMN_READ: EveryRepositoryColumn = true;

/**
 * A ticket and its repository in one round trip (what every job loads first); the repository's
 * columns come back as `repository__<column>` beside the ticket's and are split apart here.
 *
 * @example
 * const { ticket, repo } = await getTicketWithRepository(db, ticketId);
 */
export async function getTicketWithRepository(
  db: Kdb,
  ticketId: string,
): Promise<{ ticket: Ticket; repo: Repository }> {
  const repoColumns = REPOSITORY_COLUMNS.map((c) => sql`r.${sql.id(c)} as ${sql.id(PREFIX + c)}`);
  const { rows } = await sql<Record<string, unknown>>`
    select t.*, ${sql.join(repoColumns)}
    from loopwright.tickets t join loopwright.repositories r on r.id = t.repo_id
    where t.id = ${ticketId}`.execute(db);
  const row = rows[0];
  if (!row) throw new NotFoundError('ticket', `#${ticketId}`);
  const ticket: Record<string, unknown> = {};
  const repo: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    if (column.startsWith(PREFIX)) repo[column.slice(PREFIX.length)] = value;
    else ticket[column] = value;
  }
  return { ticket: ticket as Ticket, repo: repo as Repository };
}

/** A ticket's key and its repository's name (what log lines call it), or undefined. */
export async function ticketNames(
  db: Kdb,
  ticketId: string,
): Promise<{ key: string; repo: string } | undefined> {
  return db
    .selectFrom('loopwright.tickets as t')
    .innerJoin('loopwright.repositories as r', 'r.id', 't.repo_id')
    .select(['t.key as key', 'r.name as repo'])
    .where('t.id', '=', ticketId)
    .executeTakeFirst();
}
