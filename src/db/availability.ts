/**
 * Telling a database outage from a real error, and saying so once: a server restart, failover,
 * `pg_terminate_backend` or network drop is *transient* (wait and retry), a bad password or a
 * missing database is *configuration* (stop and say why). {@link DatabaseAvailability} logs one
 * line when the database goes and one when it is back, however many retries happen in between.
 */
import type { Logger } from 'pino';

/** Socket-level codes of a server that is not there (yet, or any more). */
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** SQLSTATEs of a server restarting, shutting down, in recovery or out of connections. */
const TRANSIENT_SQLSTATES = new Set([
  '57P01', // admin_shutdown (also pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up / shutting down)
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300', // too_many_connections
  '25006', // read_only_sql_transaction: a standby promoted mid-failover
]);

/** Messages node-postgres uses for a connection lost without a code. */
const TRANSIENT_MESSAGES = [
  /connection terminated/i,
  /terminating connection/i,
  /client has encountered a connection error/i,
  /timeout exceeded when trying to connect/i,
  /connection (?:is )?closed/i,
  /the database system is (?:starting up|shutting down|in recovery mode)/i,
  /server closed the connection unexpectedly/i,
];

interface MaybeCoded {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
}

/**
 * True when `error` (or its cause) means "the database is unreachable right now" rather than
 * "this statement is wrong". Wrapped errors (kysely, our own named errors, AggregateError) are
 * looked through.
 *
 * @example
 * ```ts
 * if (isTransientDbError(error)) await waitAndRetry(); else throw error;
 * ```
 */
export function isTransientDbError(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const e = error as MaybeCoded;
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && (TRANSIENT_SOCKET_CODES.has(code) || TRANSIENT_SQLSTATES.has(code))) return true;
  if (
    typeof e.message === 'string' &&
    TRANSIENT_MESSAGES.some((re) => re.test(e.message as string))
  )
    return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isTransientDbError(x, depth + 1)))
    return true;
  return isTransientDbError(e.cause, depth + 1);
}

/** The most specific code for a log line: SQLSTATE or socket code, else the error's name. */
export function dbErrorCode(error: unknown, depth = 0): string {
  if (!error || typeof error !== 'object' || depth > 5) return 'UNKNOWN';
  const e = error as MaybeCoded & { name?: unknown };
  const inner = e.cause ? dbErrorCode(e.cause, depth + 1) : 'UNKNOWN';
  if (inner !== 'UNKNOWN') return inner;
  if (typeof e.code === 'string' && e.code !== 'DB_UNAVAILABLE') return e.code;
  if (Array.isArray(e.errors) && e.errors[0]) return dbErrorCode(e.errors[0], depth + 1);
  return typeof e.message === 'string' && /terminat/i.test(e.message)
    ? 'CONNECTION_TERMINATED'
    : 'UNKNOWN';
}

/** The first line of an error's message, for a log field or a journaled detail. */
export function firstLine(error: unknown, max = 300): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split('\n').find((l) => l.trim() !== '') ?? message;
  return line.trim().slice(0, max);
}

/** Backoff for attempt n (0-based): 250 ms doubling, capped, with ±20 % jitter. */
export function backoffMs(attempt: number, capMs = 5000): number {
  const base = Math.min(capMs, 250 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Run an idempotent database write again while the database is briefly away (a restart,
 * terminated backends, a short outage): up to `tries` attempts with backoff; any other error, or
 * the last transient one, is thrown.
 *
 * @example
 * ```ts
 * await retryTransient(() => markRunSpawned(db, runId, group));
 * ```
 */
export async function retryTransient<T>(work: () => Promise<T>, tries = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= tries || !isTransientDbError(error)) throw error;
      await pause(backoffMs(attempt - 1));
    }
  }
}

/** Sleep `ms`, or less when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Up/down bookkeeping for one process: the first transient failure logs
 * "Database unavailable, retrying" (with the code), the first success after it logs
 * "Database available again" (with the outage's length). Nothing in between.
 */
export class DatabaseAvailability {
  private downSince: number | undefined;
  private upSince = Date.now();
  private readonly waiters = new Set<() => void>();

  constructor(private readonly logger: Logger) {}

  get available(): boolean {
    return this.downSince === undefined;
  }

  /** How long the database has answered since the last outage (0 while down). */
  upForMs(): number {
    return this.downSince === undefined ? Date.now() - this.upSince : 0;
  }

  /** Record a transient failure (idempotent while down). */
  down(error: unknown): void {
    if (this.downSince !== undefined) return;
    this.downSince = Date.now();
    this.logger.warn(
      { code: dbErrorCode(error), reason: firstLine(error) },
      'Database unavailable, retrying',
    );
  }

  /** Record a success (idempotent while up); wakes {@link whenAvailable} waiters. */
  up(): void {
    if (this.downSince === undefined) return;
    const seconds = Math.round((Date.now() - this.downSince) / 100) / 10;
    this.downSince = undefined;
    this.upSince = Date.now();
    this.logger.warn({ downSeconds: seconds }, 'Database available again');
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Resolves at once when up, else when {@link up} is next called or `signal` aborts. */
  whenAvailable(signal?: AbortSignal): Promise<void> {
    if (this.available || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }
}
