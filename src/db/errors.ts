/**
 * Driver errors are mapped here, once, into the named errors of src/errors.ts.
 */
import {
  BadInputError,
  DatabaseUnavailableError,
  ImmutableRowError,
  LoopwrightError,
} from '../errors.js';

interface PgError {
  code?: string;
  message?: string;
  constraint?: string;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'ECONNRESET',
  '57P01',
  '57P03',
  '08006',
  '08001',
  '08004',
  '3D000',
  '28P01',
  '28000',
]);

/**
 * Wrap a driver error in the loopwright error it means, keeping the original as `cause`.
 * Errors that are already named pass through unchanged.
 *
 * @example
 * ```ts
 * try { await insertRow(db) } catch (e) { throw mapDbError(e) }
 * ```
 */
export function mapDbError(error: unknown): unknown {
  if (error instanceof LoopwrightError) return error;
  const pg = error as PgError;
  if (pg?.code === 'LW001')
    return new ImmutableRowError(pg.message ?? 'row is immutable', { cause: error });
  if (pg?.code === '23505')
    return new BadInputError(`already exists (${pg.constraint ?? 'unique constraint'})`, {
      cause: error,
      code: 'DUPLICATE',
    });
  // Text Postgres cannot store: a NUL byte or invalid UTF-8 that got past the boundary checks.
  if (pg?.code === '22021' || pg?.code === '22P05')
    return new BadInputError(`text the database cannot store: ${pg.message ?? pg.code}`, {
      cause: error,
      code: 'UNSTORABLE_TEXT',
    });
  if (pg?.code && CONNECTION_CODES.has(pg.code)) {
    return new DatabaseUnavailableError(`database unavailable: ${pg.message ?? pg.code}`, {
      cause: error,
    });
  }
  return error;
}

/** True when the error is Postgres telling us the transaction must be retried. */
export function isSerializationFailure(error: unknown): boolean {
  const code = (error as PgError)?.code;
  return code === '40001' || code === '40P01' || isIdempotencyRace(error);
}

/**
 * A unique violation on an idempotency key: a concurrent writer recorded the same key first (see
 * `lockTicket`); the retried transaction answers with that outcome.
 */
function isIdempotencyRace(error: unknown): boolean {
  const e = error as PgError & { constraint?: string };
  return e?.code === '23505' && /_idempotency_key_key$/.test(e.constraint ?? '');
}
