/**
 * Does the sandbox work here? bwrap must be installed and actually run a trivial command through
 * the same argv real runs use (a container without namespaces fails here, not mid-ticket); as root
 * setpriv and the sandbox account must exist too. Probed once per process.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { logger } from '../../log/logger.js';
import { prepareSandboxedLaunch, type SandboxedLaunch } from './launch.js';
import { type SandboxUser, resolveSandboxUser } from './sandbox-user.js';
import type { SandboxStatus } from './spec.js';

export type { SandboxStatus } from './spec.js';

/** The fix printed when bwrap is missing or broken. */
export const BWRAP_FIX =
  'install bubblewrap (apt-get install -y bubblewrap), or set "sandbox": "none" for the repo';

const PROBE_TIMEOUT_MS = 10_000;
let cached: Promise<SandboxStatus> | undefined;

/**
 * Whether bwrap works here, which uid/gid agents run as, and why not. Cached per process.
 *
 * @example
 * const status = await detectSandbox();
 * if (!status.available) console.error(`sandbox unavailable: ${status.reason}; ${status.fix}`);
 */
export function detectSandbox(): Promise<SandboxStatus> {
  cached ??= probe();
  return cached;
}

async function probe(): Promise<SandboxStatus> {
  if (process.platform !== 'linux')
    return { available: false, reason: `bubblewrap needs Linux (this is ${process.platform})` };
  const bwrap = findExecutable('bwrap');
  if (!bwrap) return { available: false, reason: 'bwrap is not installed', fix: BWRAP_FIX };
  let user: SandboxUser | undefined;
  let setpriv: string | undefined;
  try {
    user = await resolveSandboxUser();
    if (user) {
      setpriv = findExecutable('setpriv');
      if (!setpriv)
        return {
          available: false,
          bwrap,
          reason: 'setpriv (util-linux) is not installed; as root it drops agents to another uid',
          fix: 'install util-linux (apt-get install -y util-linux)',
        };
    }
  } catch (error) {
    return { available: false, bwrap, reason: (error as Error).message, fix: BWRAP_FIX };
  }
  const base = { bwrap, ...(setpriv ? { setpriv } : {}), ...(user ? { user } : {}) };
  const failure = await trialRun({ ...base, available: true });
  if (failure) {
    logger().warn({ bwrap, failure }, 'Sandbox probe failed');
    return {
      ...base,
      available: false,
      reason: `bwrap does not work here: ${failure}`,
      fix: BWRAP_FIX,
    };
  }
  return { ...base, available: true };
}

/** Run `true` through the real launcher; returns the failure, or undefined when it worked. */
async function trialRun(status: SandboxStatus): Promise<string | undefined> {
  let launch: SandboxedLaunch | undefined;
  try {
    launch = await prepareSandboxedLaunch(
      { mode: 'bwrap', writable: [] },
      { argv: ['true'], env: { PATH: '/usr/bin:/bin' }, cwd: '/' },
      status,
    );
    const { file, args, argsData } = launch;
    return await new Promise<string | undefined>((resolve) => {
      const child = execFile(
        file,
        args,
        { timeout: PROBE_TIMEOUT_MS, env: { PATH: '/usr/bin:/bin' }, killSignal: 'SIGKILL' },
        (error, _stdout, stderr) => resolve(error ? firstLine(stderr) || error.message : undefined),
      );
      child.stdin?.end(argsData);
    });
  } catch (error) {
    return (error as Error).message;
  } finally {
    launch?.cleanup();
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

/** `name` on PATH (then /usr/bin, /bin), as an absolute path, if executable. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/bin', '/usr/sbin'];
  for (const dir of dirs) {
    if (!dir || !path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
