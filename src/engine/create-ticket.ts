/**
 * Filing a ticket: the row, its dependency edges, journal row 1 (CREATED, carrying the machine
 * input so verify-journal can replay from it) and the scheduling job — in one transaction, two
 * round trips when it depends on nothing, one statement in a repository this process filed into
 * (src/engine/known-repositories.ts).
 */
import type pg from 'pg';
import { initialTransition } from 'xstate';
import {
  MACHINE_VERSION,
  ticketMachine,
  type TicketContext,
  type TicketInput,
} from '../../machines/ticket.js';
import { getBatchByName } from '../db/batches.js';
import { type Kdb, poolOf } from '../db/connection.js';
import { addDependencies } from '../db/dependencies.js';
import {
  type FilingRepository,
  fileTicketStatement,
  repositoryForFiling,
} from '../db/ticket-filing.js';
import { getTicket } from '../db/tickets.js';
import { announceStatement } from '../db/announce.js';
import {
  kyselySession,
  queryAloneAnnounced,
  type Statement,
  type TxSession,
} from '../db/tx-session.js';
import { repoSettings } from '../config/repo-settings.js';
import { mapDbError } from '../db/errors.js';
import { BadInputError, NotFoundError } from '../errors.js';
import {
  forgetRepository,
  IDS_DRAWN_AHEAD,
  rememberRepository,
  takeKnownRepository,
} from './known-repositories.js';
import { type KnownTicket, rememberTicket } from './known-tickets.js';
import { persistSnapshot } from './snapshot.js';
import { inSession } from './transaction.js';
import { planWork, workActionsOf } from './work.js';

export interface NewTicketInput {
  readonly repo: string;
  readonly title: string;
  readonly body?: string;
  readonly priority?: number;
  readonly tags?: readonly string[];
  readonly batch?: string;
  /** Keys of tickets that must be LIVE before this one starts. */
  readonly dependsOn?: readonly string[];
  readonly actor: string;
  /** The ticket whose agent discovered this one, if any. */
  readonly originTicketId?: string;
  /** Where a discovered ticket came from, journaled in its CREATED row. */
  readonly origin?: {
    readonly ticket: string;
    readonly runId: string | null;
    readonly blocking: boolean;
  };
}

export interface CreatedTicket {
  readonly id: string;
  readonly key: string;
  readonly state: string;
  readonly jobIds: readonly string[];
}

const TAG = /^[a-z0-9][a-z0-9_.-]{0,39}$/;

/**
 * File a ticket in a registered repository.
 *
 * @example
 * ```ts
 * const input = { repo: 'app', title: 'Add /health', actor: 'operator:me' };
 * const { key } = await createTicket(db, input);
 * ```
 */
export async function createTicket(db: Kdb, input: NewTicketInput): Promise<CreatedTicket> {
  const pool = poolOf(db);
  const simple = !input.batch && !input.dependsOn?.length;
  const fast = pool && simple ? await fileInKnownRepository(pool, input) : undefined;
  if (fast) return fast;
  const drawn = pool && simple ? IDS_DRAWN_AHEAD : 1;
  const filed = await inSession(db, (session) => fileTicket(session, input, drawn));
  if (pool) {
    // Its first event can then go in one statement (src/engine/known-tickets.ts), and so can
    // the next filing in the repository.
    if (filed.known) rememberTicket(pool, filed.known);
    if (simple) rememberRepository(pool, filed.repo, filed.spareIds);
  }
  return filed.created;
}

/**
 * One statement, no transaction around it, for a repository this process filed into with an id
 * drawn ahead; undefined when it must look the repository up (unknown, out of ids, or changed).
 */
async function fileInKnownRepository(
  pool: pg.Pool,
  input: NewTicketInput,
): Promise<CreatedTicket | undefined> {
  const title = validateNew(input);
  const known = takeKnownRepository(pool, input.repo);
  if (!known) return undefined;
  const { statement, announce, row } = filing(input, title, known.repo, known.ticketId, null, true);
  const [filed] = await queryAloneAnnounced<FiledRow>(pool, statement, announce).catch(
    (error: unknown) => {
      throw mapDbError(error);
    },
  );
  if (!filed) {
    forgetRepository(pool, input.repo);
    return undefined;
  }
  rememberTicket(pool, { ...row, key: filed.key, xmin: filed.xmin });
  return { id: known.ticketId, key: filed.key, state: 'QUEUED', jobIds: filed.jobIds };
}

/**
 * The same on the caller's transaction (discovered work is filed with the event that carried it).
 * Everything is validated before the first write, so a BadInputError leaves the transaction usable.
 */
export async function createTicketIn(trx: Kdb, input: NewTicketInput): Promise<CreatedTicket> {
  return (await fileTicket(kyselySession(trx), input, 1)).created;
}

interface Filed {
  readonly created: CreatedTicket;
  /** The row as filed, when the write was the transaction's last statement. */
  readonly known: KnownTicket | undefined;
  /** The repository as read, and the ids drawn beyond this filing's. */
  readonly repo: FilingRepository;
  readonly spareIds: readonly string[];
}

type FiledRow = { key: string; xmin: string; jobIds: string[] };

/** Two round trips on a session of its own: the repository look-up, then the write (+ commit). */
async function fileTicket(session: TxSession, input: NewTicketInput, ids: number): Promise<Filed> {
  const title = validateNew(input);
  const { repo, ticketIds } = await repositoryForFiling(session, input.repo, ids);
  const [ticketId, ...spareIds] = ticketIds as [string, ...string[]];
  const batch = input.batch ? await getBatchByName(session.kdb, input.batch) : null;
  const dependsOn = await Promise.all(
    (input.dependsOn ?? []).map((key) => getTicket(session.kdb, key)),
  );
  const { statement, announce, row } = filing(
    input,
    title,
    repo,
    ticketId,
    batch?.id ?? null,
    false,
  );
  const last = dependsOn.length === 0;
  const [filed] = last
    ? await session.queryAndCommit<FiledRow>(statement, announce)
    : await session.query<FiledRow>(statement);
  if (!filed) throw new NotFoundError('repo', input.repo);
  if (!last) {
    await addDependencies(
      session.kdb,
      ticketId,
      dependsOn.map((t) => t.id),
    );
    // The commit is not this function's to send: announced inside, delivered at the commit.
    await session.query(announce);
  }
  const { key, xmin, jobIds } = filed;
  return {
    created: { id: ticketId, key, state: 'QUEUED', jobIds },
    known: last ? { ...row, key, xmin } : undefined,
    repo,
    spareIds,
  };
}

/** The filing statement, and the ticket row it writes (less its key and xmin). */
function filing(
  input: NewTicketInput,
  title: string,
  repo: FilingRepository,
  ticketId: string,
  batchId: string | null,
  guarded: boolean,
): { statement: Statement; announce: Statement; row: Omit<KnownTicket, 'key' | 'xmin'> } {
  const machineInput = machineInputFor(repo);
  const [snapshot, actions] = initialTransition(ticketMachine, machineInput);
  const stored = workActionsOf(actions);
  const snapshotJson = JSON.stringify(persistSnapshot(snapshot));
  const jobs = planWork(ticketId, 1, stored, snapshot.context as TicketContext).jobs;
  const statement = fileTicketStatement({
    ticketId,
    repo,
    batchId,
    originTicketId: input.originTicketId ?? null,
    title,
    body: input.body ?? '',
    priority: input.priority ?? 0,
    tags: [...new Set(input.tags ?? [])],
    snapshotJson,
    machineVersion: MACHINE_VERSION,
    event: {
      type: 'CREATED',
      input: machineInput,
      ...(input.origin ? { origin: input.origin } : {}),
    },
    actor: input.actor,
    actions: stored,
    jobs,
    guarded,
  });
  const row = { id: ticketId, state: 'QUEUED', substate: null, version: 1 } as const;
  return {
    statement,
    announce: announceStatement(ticketId, jobs.length),
    row: { ...row, current_run_id: null, snapshotJson },
  };
}

/** The machine input a repository's settings imply (ship mode, budgets). */
export function machineInputFor(repo: FilingRepository): TicketInput {
  const settings = repoSettings(repo);
  return {
    mode: repo.mode,
    ...(settings.limits ? { limits: settings.limits } : {}),
    ...(settings.github ? { shipVia: 'github' as const } : {}),
  };
}

/** Most bytes a ticket body may have (UTF-8): every agent of the ticket reads it. */
export const MAX_BODY_BYTES = 256 * 1024;
/** Most characters a title may have. */
export const MAX_TITLE_CHARS = 500;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text Postgres cannot store (NUL) or nobody should (invalid UTF-16 surrogates): refused whole. */
function assertStorableText(field: string, text: string): void {
  if (text.includes('\u0000')) throw new BadInputError(`${field} contains a NUL byte`);
  if (LONE_SURROGATE.test(text)) throw new BadInputError(`${field} is not valid Unicode text`);
}

function validateNew(input: NewTicketInput): string {
  const title = input.title?.trim() ?? '';
  if (!title) throw new BadInputError('a ticket needs a title (--title)');
  assertStorableText('title', title);
  if (title.length > MAX_TITLE_CHARS)
    throw new BadInputError(`title is longer than ${MAX_TITLE_CHARS} characters`);
  if (input.body !== undefined) {
    assertStorableText('body', input.body);
    const bytes = Buffer.byteLength(input.body, 'utf8');
    if (bytes > MAX_BODY_BYTES)
      throw new BadInputError(
        `body is ${bytes} bytes; the limit is ${MAX_BODY_BYTES} (256 KiB): put the detail in ` +
          `a file in the repository and refer to it`,
      );
  }
  if (
    input.priority !== undefined &&
    (!Number.isInteger(input.priority) || Math.abs(input.priority) > 1000)
  ) {
    throw new BadInputError(
      `priority must be an integer between -1000 and 1000, got ${input.priority}`,
    );
  }
  for (const tag of input.tags ?? []) {
    if (!TAG.test(tag))
      throw new BadInputError(`invalid tag "${tag}": use lowercase letters, digits, . _ -`);
  }
  return title;
}
