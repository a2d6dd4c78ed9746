/**
 * Turning "run argv in cwd with env" into a bwrap launch: the default hides, the resolved mounts,
 * the per-run scratch /tmp, and the argv. The caller spawns `file args` with stdin a pipe, writes
 * `argsData` to it and closes it (bwrap reads its options from there: `--args 0`).
 */
import os from 'node:os';
import path from 'node:path';
import { resolveHome } from '../../config/home.js';
import { packageRoot } from '../../config/package-root.js';
import { dbDirOf, PG_DATA_ENV, SYSTEM_DIR } from '../../db/embedded/layout.js';
import { readServerConfig } from '../../db/embedded/server-config.js';
import { buildBwrapArgs, SANDBOX_TMP } from './bwrap-argv.js';
import { type DefaultHides, isInside, planMounts } from './mounts.js';
import { createScratch, removeScratchSoon } from './scratch.js';
import {
  parseSandboxSpec,
  type SandboxSpec,
  type SandboxStatus,
  SandboxUnavailableError,
} from './spec.js';

/** A ready-to-spawn sandboxed process. */
export interface SandboxedLaunch {
  readonly file: string;
  readonly args: readonly string[];
  /** NUL-separated bwrap options, to be written to the child's stdin and closed. */
  readonly argsData: Buffer;
  /**
   * Remove the scratch directory (after the whole group is gone); returns at once, the removal
   * runs off the event loop (see removeScratchSoon).
   */
  readonly cleanup: () => void;
}

/** What to run inside. */
export interface SandboxedCommand {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

/**
 * Prepare one bwrap launch for `command` under `spec`.
 *
 * @throws SandboxUnavailableError when `status` says bwrap does not work.
 * @throws SandboxSpecError when the spec cannot be honoured (see planMounts).
 */
export async function prepareSandboxedLaunch(
  spec: SandboxSpec,
  command: SandboxedCommand,
  status: SandboxStatus,
): Promise<SandboxedLaunch> {
  if (!status.available || !status.bwrap)
    throw new SandboxUnavailableError(
      `sandbox unavailable: ${status.reason ?? 'unknown reason'}` +
        (status.fix ? `; ${status.fix}` : ''),
    );
  const mounts = planMounts(parseSandboxSpec(spec), await defaultHides(process.env));
  const scratchDir = await createScratch(status.user);
  const { options, command: tail } = buildBwrapArgs({
    bwrap: status.bwrap,
    ...(status.setpriv ? { setpriv: status.setpriv } : {}),
    ...(status.user ? { user: status.user } : {}),
    scratchDir,
    mounts,
    env: command.env,
    cwd: command.cwd,
    argv: command.argv,
  });
  return {
    file: status.bwrap,
    args: ['--args', '0', ...tail],
    argsData: Buffer.from(options.map((o) => `${o}\0`).join('')),
    cleanup: () => removeScratchSoon(scratchDir),
  };
}

/**
 * What every sandbox hides: LOOPWRIGHT_HOME, the orchestrator's HOME and /root (soft: a
 * workspace below may be shown), the Postgres socket directories, and the embedded cluster's
 * files wherever they are (protected: nothing inside may be bound).
 */
export async function defaultHides(env: NodeJS.ProcessEnv): Promise<DefaultHides> {
  const home = resolveHome(env);
  const protectedPaths = [dbDirOf(home), SYSTEM_DIR];
  const override = env[PG_DATA_ENV]?.trim();
  if (override) protectedPaths.push(path.resolve(override), path.dirname(path.resolve(override)));
  try {
    const config = await readServerConfig(home);
    if (config) protectedPaths.push(config.dataDir, path.dirname(config.logFile));
  } catch {
    // An unreadable server.json is the database's problem; its directory is hidden anyway.
  }
  const soft = [home, os.homedir(), '/root', '/run/postgresql', '/var/run/postgresql'];
  return { soft, protected: protectedPaths, show: programTrees(soft) };
}

/**
 * loopwright's package and Node's installation prefix, for the ones below a soft hide (a checkout
 * in /root/src, Node from ~/.nvm) — never one that is, or contains, a hidden tree itself.
 */
function programTrees(soft: readonly string[]): string[] {
  const nodePrefix = path.dirname(path.dirname(process.execPath));
  // The sandbox's /tmp is private too: a checkout or Node under /tmp (a CI clone, a test run)
  // must be shown there as well, or agents cannot start.
  const covered = [...soft, SANDBOX_TMP, os.tmpdir()];
  return [packageRoot(), nodePrefix].filter(
    (tree) =>
      covered.some((hidden) => isInside(tree, hidden)) &&
      !covered.some((hidden) => isInside(hidden, tree)),
  );
}
