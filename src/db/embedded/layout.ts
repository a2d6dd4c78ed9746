import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ensureHome } from '../../config/home.js';
import { EmbeddedPostgresError } from './errors.js';
import { canTraverse, giveTo } from './fs-access.js';
import type { ServerOsUser } from './os-user.js';

/** Where clusters go when running as root and LOOPWRIGHT_HOME is not reachable by `postgres`. */
export const SYSTEM_DIR = '/var/lib/loopwright';
/** Environment variable overriding the data directory chosen at initialisation. */
export const PG_DATA_ENV = 'LOOPWRIGHT_PG_DATA';

/** Where one cluster's files live on disk; recorded in server.json at initialisation. */
export interface ClusterLayout {
  readonly dataDir: string;
  readonly logFile: string;
}

/** `LOOPWRIGHT_HOME/db`: server.json, the lock, and (usually) the cluster itself. */
export function dbDirOf(home: string): string {
  return path.join(home, 'db');
}

/**
 * Create the home (0700) and `home/db`. As root `home/db` is 0711 so that, when the home itself
 * is reachable, `postgres` may pass through to its own files without being able to list ours.
 */
export async function ensureDbDir(home: string, asRoot: boolean): Promise<string> {
  ensureHome(home);
  const dbDir = dbDirOf(home);
  await fs.mkdir(dbDir, { recursive: true, mode: asRoot ? 0o711 : 0o700 });
  return dbDir;
}

/**
 * The system-wide cluster directory for a home: `/var/lib/loopwright/<12 hex of
 * sha256(realpath(home))>`, stable for the home and distinct between homes.
 */
export async function systemClusterDirOf(home: string): Promise<string> {
  // A deleted home hashes as written: `db destroy` still finds the cluster it left behind.
  const real = await fs.realpath(home).catch(() => path.resolve(home));
  return path.join(SYSTEM_DIR, createHash('sha256').update(real).digest('hex').slice(0, 12));
}

/**
 * Decide where a new cluster goes and create its parent directories. Unprivileged: under
 * `home/db`. As root: under `home/db` only if the server OS user can reach it, else under
 * {@link SYSTEM_DIR}. `LOOPWRIGHT_PG_DATA` overrides the data directory in both cases.
 *
 * @example
 * await planClusterLayout('/root/.loopwright', pgUser, process.env);
 * // { dataDir: '/var/lib/loopwright/3f2a9c0b1d4e/data', logFile: '/var/lib/.../postgres.log' }
 */
export async function planClusterLayout(
  home: string,
  user: ServerOsUser | undefined,
  env: NodeJS.ProcessEnv,
): Promise<ClusterLayout> {
  const dbDir = await ensureDbDir(home, user !== undefined);
  const override = env[PG_DATA_ENV]?.trim();
  const parent = override ? path.dirname(path.resolve(override)) : dbDir;
  if (override) await fs.mkdir(parent, { recursive: true, mode: user ? 0o755 : 0o700 });
  if (override || !user || (await canTraverse(parent, user))) {
    await assertReachable(parent, user);
    const dataDir = override ? path.resolve(override) : path.join(dbDir, 'data');
    return { dataDir, logFile: path.join(parent, 'postgres.log') };
  }
  const clusterDir = await systemClusterDirOf(home);
  await fs.mkdir(SYSTEM_DIR, { recursive: true, mode: 0o755 });
  await fs.mkdir(clusterDir, { recursive: true, mode: 0o700 });
  await giveTo(clusterDir, user);
  await assertReachable(clusterDir, user);
  return { dataDir: path.join(clusterDir, 'data'), logFile: path.join(clusterDir, 'postgres.log') };
}

/**
 * Create the (empty) data directory owned by the server OS user, mode 0700 as Postgres demands.
 */
export async function createDataDir(
  dataDir: string,
  user: ServerOsUser | undefined,
): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  await giveTo(dataDir, user);
  await fs.chmod(dataDir, 0o700);
}

/**
 * Refuse to silently ignore `LOOPWRIGHT_PG_DATA` when server.json records another data dir.
 */
export function assertDataDirOverride(recordedDataDir: string, env: NodeJS.ProcessEnv): void {
  const override = env[PG_DATA_ENV]?.trim();
  if (!override || path.resolve(override) === recordedDataDir) return;
  throw new EmbeddedPostgresError(
    'PG_CONFIG_INVALID',
    `${PG_DATA_ENV}=${override} but this home's cluster lives in ${recordedDataDir} (as ` +
      `recorded in db/server.json). Unset ${PG_DATA_ENV}, or use another LOOPWRIGHT_HOME.`,
  );
}

async function assertReachable(dir: string, user: ServerOsUser | undefined): Promise<void> {
  if (!user || (await canTraverse(dir, user))) return;
  throw new EmbeddedPostgresError(
    'PG_DATA_DIR_INACCESSIBLE',
    `OS user "${user.name}" (which runs Postgres because loopwright runs as root) cannot reach ` +
      `${dir}: every ancestor directory needs search (x) permission for it. Choose another ` +
      `place with ${PG_DATA_ENV}.`,
  );
}
