/**
 * The context a command runs in: its io, a database handle opened on first use (and always closed
 * by `main`), and the operator's name for the journal.
 */
import { userInfo } from 'node:os';
import type { Db } from '../db/connection.js';
import type { CliContext, CliIo } from './command.js';

export interface OwnedContext extends CliContext {
  /** Close the database handle if one was opened. Never throws. */
  close(): Promise<void>;
}

/** Build a context whose database is opened lazily from `io.env`. */
export function createContext(io: CliIo, attached: boolean): OwnedContext {
  let opening: Promise<Db> | undefined;
  const handle = (): Promise<Db> => {
    opening ??= import('../db/connection.js').then((m) => m.openDatabase({ env: io.env, max: 4 }));
    return opening;
  };
  return {
    io,
    attached,
    handle,
    db: async () => (await handle()).db,
    actor: () => `operator:${operatorName(io.env)}`,
    async close() {
      if (!opening) return;
      try {
        await (await opening).close();
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
