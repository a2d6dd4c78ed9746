/**
 * The context a command runs in: its io, a database handle opened on first use (and always closed
 * by `main`), and the operator's name for the journal.
 */
import { userInfo } from 'node:os';
import type { Db } from '../db/connection.js';
import type { PoolHandle } from '../db/pool.js';
import type { CliContext, CliIo } from './command.js';

export interface OwnedContext extends CliContext {
  /** Close the database handle if one was opened. Never throws. */
  close(): Promise<void>;
}

/**
 * Build a context whose database is opened lazily from `io.env`: the pg pool first (all `status`
 * needs), kysely on top of the same pool when a command asks for it.
 */
export function createContext(io: CliIo, attached: boolean): OwnedContext {
  let pooling: Promise<PoolHandle> | undefined;
  let opening: Promise<Db> | undefined;
  const pool = (): Promise<PoolHandle> => {
    pooling ??= import('../db/pool.js').then((m) => m.openPool({ env: io.env, max: 4 }));
    return pooling;
  };
  const handle = (): Promise<Db> => {
    opening ??= Promise.all([pool(), import('../db/connection.js')]).then(([p, m]) =>
      m.withKysely(p),
    );
    return opening;
  };
  return {
    io,
    attached,
    handle,
    db: async () => (await handle()).db,
    pool: async () => (await pool()).pool,
    actor: () => `operator:${operatorName(io.env)}`,
    async close() {
      const open = opening ?? pooling;
      if (!open) return;
      try {
        await (await open).close();
      } catch {
        // Opening failed (already reported) or the pool is gone: nothing left to close.
      }
    },
  };
}

/** LOOPWRIGHT_ACTOR, else the OS user, else USER; never empty. */
export function operatorName(env: NodeJS.ProcessEnv): string {
  const configured = env.LOOPWRIGHT_ACTOR?.trim();
  if (configured) return configured;
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (some containers): fall back to the environment.
    return env.USER?.trim() || 'unknown';
  }
}
