import { runCommand } from './command.js';
import type { ServerOsUser } from './os-user.js';

/** Outcome of one Postgres command-line tool run. */
export interface ToolResult {
  readonly exitCode: number;
  /** stdout and stderr interleaved, or the spawn error message. */
  readonly output: string;
}

const TOOL_TIMEOUT_MS = 180_000;

/**
 * Run initdb or pg_ctl, as `user` when given (root case). Runs in its own process group so a
 * Ctrl-C aimed at the CLI does not reach the server pg_ctl daemonizes. Never throws for a
 * non-zero exit: callers turn failures into {@link EmbeddedPostgresError}s with context.
 *
 * @example
 * const { exitCode, output } = await runTool(bins.pgCtl, ['status', '-D', dataDir], user, dir);
 */
export async function runTool(
  file: string,
  args: readonly string[],
  user: ServerOsUser | undefined,
  cwd: string,
): Promise<ToolResult> {
  const result = await runCommand(file, args, {
    cwd,
    env: toolEnv(),
    detached: true,
    timeoutMs: TOOL_TIMEOUT_MS,
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  return {
    exitCode: result.exitCode ?? -1,
    output: result.failure ? `${result.output}\n${result.failure}`.trim() : result.output,
  };
}

/**
 * The parent environment minus libpq/server variables (PGDATA, PGPORT, PGOPTIONS... would
 * silently change what the tools do), with the C locale so a missing system locale cannot
 * break initdb or the server.
 */
function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG') && !key.startsWith('LC_')) env[key] = value;
  }
  return { ...env, LANG: 'C', LC_ALL: 'C' };
}
