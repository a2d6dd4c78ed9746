/**
 * The engine's transaction as a sequence of statements, on one of two connections: a pooled pg
 * client of its own, pipelined so BEGIN rides with the first statement and COMMIT with the last
 * (a transition is two round trips), or a kysely transaction a caller already holds (the caller
 * commits). The statements themselves live in their entity modules (src/db/ticket-rows.ts).
 */
import { CompiledQuery, Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import type pg from 'pg';
import type { Kdb } from './connection.js';
import type { Database } from './schema.js';

/** One parameterised statement; `name` prepares it once per connection on a pg client. */
export interface Statement {
  readonly name: string;
  readonly text: string;
  readonly values: readonly unknown[];
}

/**
 * A transaction the engine writes through.
 *
 * @example
 * ```ts
 * const [ticket] = await session.query<Ticket>(lockStatement);
 * const [row] = await session.queryAndCommit<{ jobIds: string[] }>(writeStatement);
 * ```
 */
export interface TxSession {
  /** Kysely on the same transaction, for the rarer queries not written as statements. */
  readonly kdb: Kdb;
  query<R>(statement: Statement): Promise<R[]>;
  /**
   * The transaction's last statement. A session that owns its transaction sends COMMIT with it
   * and resolves once both are done; on a caller's transaction it is just a statement.
   * `announce` (src/db/announce.ts) goes out after the commit, in the same write to the socket;
   * on a caller's transaction it runs in it (Postgres delivers it at the caller's commit).
   */
  queryAndCommit<R>(statement: Statement, announce?: Statement): Promise<R[]>;
}

/**
 * One statement on its own, in the implicit transaction Postgres gives it, on any client of
 * `pool` (the engine's writes that need no lock before them: src/engine/known-tickets.ts), with
 * `announce` sent right behind it in the same write to the socket (its own implicit
 * transaction, after the statement's commit). Resolves with the statement's rows once both
 * answers are in; a failed announcement is not the statement's failure (src/db/announce.ts says
 * what a lost one costs).
 */
export async function queryAloneAnnounced<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  s: Statement,
  announce: Statement,
): Promise<R[]> {
  const client = await pool.connect();
  setPipeline(client, true);
  let broken: Error | undefined;
  try {
    const answers = await Promise.allSettled(sendCorked(client, [s, announce]));
    // An ERROR Postgres answered leaves the connection usable; a FATAL one or a lost socket not.
    const fault = answers.find((a) => a.status === 'rejected' && !isServerError(a.reason));
    broken = fault?.status === 'rejected' ? (fault.reason as Error) : undefined;
    const [answer] = answers;
    if (answer!.status === 'rejected') throw answer!.reason;
    return answer!.value.rows as R[];
  } finally {
    setPipeline(client, false);
    client.release(broken);
  }
}

function isServerError(error: unknown): boolean {
  return error instanceof Error && (error as { severity?: unknown }).severity === 'ERROR';
}

/** A session on a transaction the caller holds and commits. */
export function kyselySession(trx: Kdb): TxSession {
  const query = async <R>(s: Statement): Promise<R[]> =>
    (await trx.executeQuery<R>(CompiledQuery.raw(s.text, [...s.values]))).rows as R[];
  return {
    kdb: trx,
    query,
    async queryAndCommit<R>(s: Statement, announce?: Statement): Promise<R[]> {
      const rows = await query<R>(s);
      if (announce) await query(announce);
      return rows;
    },
  };
}

const BEGIN = 'begin isolation level read committed';

/**
 * Run `work` in one READ COMMITTED transaction on a client of `pool`, with the client in pg's
 * pipeline mode so a statement is sent without waiting for the answer to the one before: BEGIN
 * goes out with the first statement, COMMIT with {@link TxSession.queryAndCommit}'s. Commits when
 * `work` returns (unless it already did), rolls back when it throws. One attempt; retries are
 * the caller's (src/engine/transaction.ts).
 */
export async function inPipelinedTransaction<T>(
  pool: pg.Pool,
  work: (session: TxSession) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  setPipeline(client, true);
  const session = new PipelinedSession(client);
  let broken: unknown;
  try {
    const result = await work(session);
    if (!session.ended) await session.end('commit');
    return result;
  } catch (error) {
    // The answer to ROLLBACK comes after every statement sent before it, so once it is back the
    // client has nothing in flight and can go back to the pool. (A commit sent with the last
    // statement ended the transaction already: this ROLLBACK then only draws a warning.)
    await session.end('rollback').catch((lost: unknown) => {
      broken = lost;
    });
    throw error;
  } finally {
    setPipeline(client, false);
    client.release(broken instanceof Error ? broken : undefined);
  }
}

// `pipeline` is a pg client option that pg reads on every query: on for the engine's own
// transaction only, so every other user of the pool keeps the one-query-at-a-time client. (A pg
// without it ignores the flag and queues the statements: slower, the same result.)
function setPipeline(client: pg.PoolClient, on: boolean): void {
  (client as unknown as { pipeline: boolean }).pipeline = on;
}

class PipelinedSession implements TxSession {
  private begun = false;
  private kysely: Kdb | undefined;
  ended = false;

  constructor(private readonly client: pg.PoolClient) {}

  get kdb(): Kdb {
    // Kysely's queries must come after BEGIN; its answer is awaited with theirs.
    if (!this.begun) void Promise.allSettled(this.send([]));
    this.kysely ??= new Kysely<Database>({
      dialect: new PostgresDialect({ pool: singleClientPool(this.client) }),
    });
    return this.kysely;
  }

  async query<R>(s: Statement): Promise<R[]> {
    this.assertOpen();
    const answers = await Promise.all(this.send([s]));
    return answers.at(-1)!.rows as R[];
  }

  async queryAndCommit<R>(s: Statement, announce?: Statement): Promise<R[]> {
    this.assertOpen();
    this.ended = true;
    const after = announce ? [announce] : [];
    const answers = await Promise.allSettled(this.send([s, 'commit', ...after]));
    // A failed announcement is not the transaction's failure (src/db/announce.ts).
    const ours = answers.slice(0, answers.length - after.length);
    const failed = ours.find((a) => a.status === 'rejected');
    if (failed) throw failed.reason;
    return (ours.at(-2) as PromiseFulfilledResult<pg.QueryResult>).value.rows as R[];
  }

  /** Send COMMIT or ROLLBACK (once; nothing when no statement was sent). */
  async end(how: 'commit' | 'rollback'): Promise<void> {
    if (!this.begun || (this.ended && how === 'commit')) return;
    this.ended = true;
    await Promise.all(this.send([how]));
  }

  /**
   * Send `statements` (after BEGIN, when the transaction has not begun) in one write to the
   * socket: one packet to the server, one wake-up of its backend.
   */
  private send(statements: readonly (Statement | string)[]): Promise<pg.QueryResult>[] {
    const sent = sendCorked(this.client, this.begun ? statements : [BEGIN, ...statements]);
    this.begun = true;
    return sent;
  }

  private assertOpen(): void {
    if (this.ended) throw new Error('statement after the end of a pipelined transaction');
  }
}

/** Send `statements` on a pipelined client in one write to its socket. */
function sendCorked(
  client: pg.PoolClient,
  statements: readonly (Statement | string)[],
): Promise<pg.QueryResult>[] {
  const { stream } = (client as unknown as pg.Client).connection;
  stream.cork();
  try {
    return statements.map((s) =>
      typeof s === 'string'
        ? client.query(s)
        : client.query({ name: s.name, text: s.text, values: [...s.values] }),
    );
  } finally {
    stream.uncork();
  }
}

/** A kysely "pool" that always hands out the session's client (and never ends it). */
function singleClientPool(client: pg.PoolClient): PostgresPool {
  return {
    connect: async () => ({
      query: client.query.bind(client) as never,
      release: () => {},
    }),
    end: async () => {},
  };
}
