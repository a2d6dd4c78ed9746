/**
 * The handle queries go through: a kysely instance on the pg pool of `pool.ts` (which database,
 * patience with outages, the schema check).
 */
import { Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import { createPool, openPool, type OpenOptions, type Patience, type PoolHandle } from './pool.js';
import type { DatabaseTarget } from './pool.js';
import type { Database } from './schema.js';

export {
  type DatabaseSource,
  type DatabaseTarget,
  type OpenOptions,
  type Patience,
  redactUrl,
  resolveDatabaseTarget,
} from './pool.js';

/** A live connection: the kysely instance for queries and the pg pool under it. */
export interface Db {
  readonly db: Kysely<Database>;
  readonly pool: pg.Pool;
  readonly target: DatabaseTarget;
  close(): Promise<void>;
}

export type Kdb = Kysely<Database>;

/** The pg pool under each kysely instance made here (the engine's pipelined transactions). */
const POOLS = new WeakMap<Kdb, pg.Pool>();

/** The pg pool `db` runs on, when it was made by {@link withKysely}. */
export function poolOf(db: Kdb): pg.Pool | undefined {
  return POOLS.get(db);
}

/** Open a pool on a URL. `max` bounds connections (default 10). */
export function connect(target: DatabaseTarget, max = 10, patience?: Patience): Db {
  return withKysely({ pool: createPool(target, max, patience), target, close: async () => {} });
}

/** Put kysely on an open pool; closing the result ends the pool. */
export function withKysely(handle: PoolHandle): Db {
  const { pool, target } = handle;
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  POOLS.set(db, pool);
  return { db, pool, target, close: () => db.destroy() };
}

/**
 * Resolve, connect, probe and (by default) migrate: what every command does first.
 *
 * @example
 * ```ts
 * const handle = await openDatabase();
 * try { ... } finally { await handle.close(); }
 * ```
 */
export async function openDatabase(options: OpenOptions = {}): Promise<Db> {
  return withKysely(await openPool(options));
}
