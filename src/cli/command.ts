/**
 * The shape every CLI command has, and what it is handed when it runs. Commands are registered in
 * `registry.ts`; each lives in its own module under `commands/` and is imported only when used.
 */
import type pg from 'pg';
import type { Db, Kdb } from '../db/connection.js';

/** Where a command reads its environment and writes its answer. Tests pass their own. */
export interface CliIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** What a running command may use; the database is opened on first use and closed by `main`. */
export interface CliContext {
  readonly io: CliIo;
  /** True when `io` is the real process, so a child process may inherit the terminal. */
  readonly attached: boolean;
  /** The migrated database of `io.env` (opened once, closed by `main`). */
  db(): Promise<Kdb>;
  /** The same connection with its pool and resolved target. */
  handle(): Promise<Db>;
  /** The same database's pg pool alone (no kysely loaded: for start-up-critical reads). */
  pool(): Promise<pg.Pool>;
  /** `operator:<name>`: LOOPWRIGHT_ACTOR, else the OS user name. */
  actor(): string;
}

/**
 * One top-level command (`show`, `repo`, ...). `run` returns the exit code: 0 ok, 1 failure;
 * bad input is thrown as a BadInputError (exit 2) before anything is written.
 *
 * @example
 * ```ts
 * export const command: Command = {
 *   name: 'hello',
 *   summary: 'say hello',
 *   usage: 'loopwright hello [--json]',
 *   async run(args, ctx) {
 *     ctx.io.stdout('hello\n');
 *     return 0;
 *   },
 * };
 * ```
 */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full help text, printed by `--help` and `loopwright help <name>`. */
  readonly usage: string;
  run(args: readonly string[], ctx: CliContext): Promise<number>;
}

/** A registry row: enough to list the command without importing its module. */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Command>;
}

/** Exit codes (DESIGN.md section 8). */
export const EXIT = { OK: 0, FAILURE: 1, BAD_INPUT: 2 } as const;
