import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** Name of the directory used when `LOOPWRIGHT_HOME` is not set. */
export const DEFAULT_HOME_DIR_NAME = '.loopwright';

/**
 * Resolve loopwright's home directory: `LOOPWRIGHT_HOME` if set (a leading `~` is expanded),
 * otherwise `~/.loopwright`. Always returns an absolute path; never touches the filesystem.
 *
 * @example
 * resolveHome({ LOOPWRIGHT_HOME: '/srv/factory' }); // '/srv/factory'
 * resolveHome({});                                  // '/home/ada/.loopwright'
 */
export function resolveHome(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.LOOPWRIGHT_HOME?.trim();
  if (!raw) return path.join(homedir(), DEFAULT_HOME_DIR_NAME);
  if (raw === '~') return homedir();
  if (raw.startsWith('~/')) return path.join(homedir(), raw.slice(2));
  return path.resolve(raw);
}

/**
 * Create the home directory if it is missing (mode 0700: it holds database credentials).
 * An existing directory keeps its mode. Synchronous so it is safe to call with or without `await`.
 *
 * @example
 * const home = ensureHome(resolveHome());
 */
export function ensureHome(home: string): string {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  return home;
}

/** The folders loopwright keeps under its home. */
export interface HomeDirs {
  /** Agent transcripts: `runs/<ticket>/<run id>.jsonl`. */
  readonly runs: string;
  /** Ticket workspaces (clones): `worktrees/<repo dir>/<ticket>`. */
  readonly workspaces: string;
  /** Scratch checkouts of gates: `tmp/scratch-*`. */
  readonly tmp: string;
  /** The embedded database's description (server.json) and, usually, its cluster. */
  readonly db: string;
}

/**
 * Where each kind of file lives under a home. Pure path arithmetic.
 *
 * @example
 * homeDirs('/srv/factory').runs; // '/srv/factory/runs'
 */
export function homeDirs(home: string): HomeDirs {
  return {
    runs: path.join(home, 'runs'),
    workspaces: path.join(home, 'worktrees'),
    tmp: path.join(home, 'tmp'),
    db: path.join(home, 'db'),
  };
}
