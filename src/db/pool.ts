/**
 * Which database loopwright talks to, and the pg pool it talks through — without kysely, so a
 * command that only reads (`status`) starts as fast as node + pg. `connection.ts` puts the kysely
 * instance on top. LOOPWRIGHT_DATABASE_URL wins, then DATABASE_URL; with neither, the embedded
 * server under LOOPWRIGHT_HOME is started on demand (src/db/embedded).
 */
import pg from 'pg';
import { resolveHome } from '../config/home.js';
import {
  backoffMs,
  type DatabaseAvailability,
  firstLine,
  isTransientDbError,
  pause,
} from './availability.js';
import { DatabaseUnavailableError, LoopwrightError } from '../errors.js';
import { ensureSchema } from './schema-check.js';

export type DatabaseSource = 'LOOPWRIGHT_DATABASE_URL' | 'DATABASE_URL' | 'embedded';

export interface DatabaseTarget {
  readonly url: string;
  readonly source: DatabaseSource;
}

/**
 * Resolve the database URL; starts the embedded server when no URL is configured and `start` is
 * set.
 */
export async function resolveDatabaseTarget(
  env: NodeJS.ProcessEnv = process.env,
  start = true,
): Promise<DatabaseTarget> {
  if (env.LOOPWRIGHT_DATABASE_URL)
    return { url: env.LOOPWRIGHT_DATABASE_URL, source: 'LOOPWRIGHT_DATABASE_URL' };
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, source: 'DATABASE_URL' };
  const home = resolveHome(env);
  // Loaded only here: commands on a configured URL never pay for the embedded server's code.
  const { ensureEmbeddedServer, embeddedServerStatus } = await import('./embedded/index.js');
  if (start) return { url: (await ensureEmbeddedServer(home)).url, source: 'embedded' };
  const status = await embeddedServerStatus(home);
  if (!status.url)
    throw new DatabaseUnavailableError(
      `no database configured and the embedded one under ${home} is not initialised (run: ` +
        `loopwright db start)`,
    );
  return { url: status.url, source: 'embedded' };
}

/**
 * How a pool behaves while the server is away. Without it, a failed connect fails the query at
 * once (the CLI reports "database unavailable" and exits 1); with it, connects that fail for a
 * transient reason (see {@link isTransientDbError}) are retried with backoff until they succeed
 * or `signal` aborts, and `availability` says so once each way.
 */
export interface Patience {
  readonly availability: DatabaseAvailability;
  /** Abort to stop waiting (shutdown): the pending connect then fails with the last error. */
  readonly signal: AbortSignal;
}

/** A pg pool on a URL. `max` bounds connections (default 10). */
export function createPool(target: DatabaseTarget, max = 10, patience?: Patience): pg.Pool {
  const config = { connectionString: target.url, max, application_name: 'loopwright' };
  const pool = patience ? new PatientPool(config, patience) : new pg.Pool(config);
  // A client losing its connection (server restart, terminated backend) must not crash the
  // process: idle ones are dropped by the pool, busy ones fail their query, which the caller sees.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

type ConnectCallback = (
  err: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: unknown) => void,
) => void;

/**
 * A pg pool whose `connect` waits out an outage. Only acquiring a connection is retried — no
 * statement was sent yet, so that is always safe; a statement cut off mid-flight still fails
 * to its caller, who knows whether it may be repeated. `pool.query` goes through `connect` too.
 */
class PatientPool extends pg.Pool {
  constructor(
    config: pg.PoolConfig,
    private readonly patience: Patience,
  ) {
    super(config);
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    const acquired = this.connectPatiently();
    if (!callback) return acquired;
    acquired.then(
      (client) => callback(undefined, client, (release) => client.release(release as Error)),
      (error: Error) => callback(error, undefined, () => {}),
    );
    return undefined;
  }

  private async connectPatiently(): Promise<pg.PoolClient> {
    const { availability, signal } = this.patience;
    for (let attempt = 0; ; attempt++) {
      try {
        const client = await super.connect();
        availability.up();
        return client;
      } catch (error) {
        if (signal.aborted || !isTransientDbError(error)) throw error;
        availability.down(error);
        await pause(backoffMs(attempt), signal);
      }
    }
  }
}

export interface OpenOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly migrate?: boolean;
  readonly max?: number;
  /** Wait out outages (see {@link Patience}); `loopwright run` sets it. */
  readonly patience?: Patience;
}

/** An open pool and where it points. */
export interface PoolHandle {
  readonly pool: pg.Pool;
  readonly target: DatabaseTarget;
  close(): Promise<void>;
}

/**
 * Resolve, connect, probe and (by default) migrate: what every command does first.
 *
 * @example
 * ```ts
 * const { pool, close } = await openPool();
 * try { await pool.query('select 1'); } finally { await close(); }
 * ```
 */
export async function openPool(options: OpenOptions = {}): Promise<PoolHandle> {
  const target = await resolveDatabaseTarget(options.env ?? process.env);
  const pool = createPool(target, options.max, options.patience);
  try {
    // The schema check is one query and proves the connection too; without it, a probe does.
    if (options.migrate !== false) await ensureSchema(pool);
    else await pool.query('select 1');
    return { pool, target, close: () => pool.end() };
  } catch (error) {
    await pool.end().catch(() => {});
    if (error instanceof LoopwrightError) throw error;
    const why = firstLine(error);
    throw new DatabaseUnavailableError(
      isTransientDbError(error)
        ? `database unavailable: ${why} (cannot use the database from ${target.source})`
        : `cannot use the database from ${target.source}: ${why}`,
      { cause: error },
    );
  }
}

/** The URL with its password hidden, for printing. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable url)';
  }
}
