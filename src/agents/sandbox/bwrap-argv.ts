/**
 * The bwrap command line for one sandboxed process (pure: all I/O happened before). Namespaces
 * for pids, IPC, hostname and cgroups; the system read-only; a private /tmp holding a private HOME;
 * the mounts of {@link planMounts}; the environment exactly as given; and, as root, a real uid
 * switch with setpriv before the command runs. The network is kept: the model API must stay
 * reachable.
 */
import path from 'node:path';
import type { Mount } from './mounts.js';
import type { SandboxUser } from './sandbox-user.js';

/** Inside the sandbox: the private tmp (a per-run host directory) and the HOME inside it. */
export const SANDBOX_TMP = '/tmp';
export const SANDBOX_HOME = '/tmp/home';

/** Everything the argv depends on. */
export interface BwrapInvocation {
  /** Absolute path of bwrap. */
  readonly bwrap: string;
  /** Absolute path of setpriv; required when `user` is set. */
  readonly setpriv?: string;
  /** Run as this account (loopwright runs as root); undefined keeps our own uid. */
  readonly user?: SandboxUser;
  /** Host directory bound at /tmp, owned by the process's user, with `home/` inside. */
  readonly scratchDir: string;
  readonly mounts: readonly Mount[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly argv: readonly string[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Split in two: `options` go to bwrap through `--args FD` (so the environment, model key
 * included, never shows in `ps`), `command` is the rest of bwrap's argv (`setpriv ... -- argv`).
 *
 * @example
 * const { options, command } = buildBwrapArgs({ bwrap, scratchDir, mounts, env, cwd, argv });
 * spawn(bwrap, ['--args', '3', ...command], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
 */
export function buildBwrapArgs(inv: BwrapInvocation): { options: string[]; command: string[] } {
  const options = [
    '--new-session',
    '--die-with-parent',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--perms',
    '1777',
    '--tmpfs',
    '/dev/shm',
    '--proc',
    '/proc',
    '--bind',
    inv.scratchDir,
    SANDBOX_TMP,
    ...inv.mounts.flatMap((mount) => [...mountArgs(mount), ...openParents(mount, inv.mounts)]),
    '--clearenv',
    ...envArgs(inv),
    '--chdir',
    inv.cwd,
  ];
  if (!inv.user) return { options, command: ['--', ...inv.argv] };
  if (!inv.setpriv) throw new TypeError('buildBwrapArgs: a user switch needs setpriv');
  // bwrap as root drops every capability; setpriv needs these two for the switch, which then
  // clears them again (all uids non-zero). no_new_privs keeps setuid binaries (sudo) inert.
  options.push('--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID');
  const command = [
    '--',
    inv.setpriv,
    `--reuid=${inv.user.uid}`,
    `--regid=${inv.user.gid}`,
    '--clear-groups',
    '--no-new-privs',
    '--inh-caps=-all',
    '--',
    ...inv.argv,
  ];
  return { options, command };
}

function mountArgs(mount: Mount): string[] {
  if (mount.kind === 'hide') return ['--tmpfs', mount.path];
  if (mount.kind === 'writable') return ['--bind', mount.path, mount.path];
  return ['--ro-bind', mount.path, mount.path];
}

/**
 * bwrap creates missing mount points with the mode of the source's parent (often 0700 root), so
 * the dropped user could not walk down to its own workspace. The directories bwrap made for
 * `mount` inside a tmpfs (a hide, or the private /tmp) are opened to 0755; directories that exist
 * on the host are never touched.
 */
function openParents(mount: Mount, all: readonly Mount[]): string[] {
  if (mount.kind === 'hide') return [];
  const ancestors = [{ kind: 'hide' as const, path: SANDBOX_TMP }, ...all].filter(
    (m) => m.path !== mount.path && isBelow(mount.path, m.path),
  );
  const nearest = ancestors.sort((a, b) => b.path.length - a.path.length)[0];
  if (nearest?.kind !== 'hide') return [];
  const args: string[] = [];
  for (let dir = path.dirname(mount.path); dir !== nearest.path; dir = path.dirname(dir)) {
    args.unshift('--chmod', '0755', dir);
    if (dir === '/') break;
  }
  return args;
}

/** True if `p` is strictly below `dir`. */
function isBelow(p: string, dir: string): boolean {
  return dir === '/' ? p !== '/' : p.startsWith(`${dir}/`);
}

/** The given environment, with HOME/TMPDIR pointing into the sandbox and the user's names. */
function envArgs(inv: BwrapInvocation): string[] {
  const env: Record<string, string> = { ...inv.env, HOME: SANDBOX_HOME, TMPDIR: SANDBOX_TMP };
  if (inv.user) {
    env.USER = inv.user.name;
    env.LOGNAME = inv.user.name;
  }
  return Object.entries(env)
    .filter(([name]) => ENV_NAME.test(name))
    .flatMap(([name, value]) => ['--setenv', name, value]);
}
