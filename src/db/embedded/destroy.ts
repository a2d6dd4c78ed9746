/**
 * `loopwright db destroy`: find the home's embedded cluster — the one server.json describes, or
 * an orphan left where a new cluster for this home would go (its home was deleted) — stop it and
 * delete its files: the data dir, its log, and as root its `/var/lib/loopwright/<hash>/` folder
 * and record. Only a directory that holds a Postgres cluster (PG_VERSION) is ever deleted.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive } from '../../agents/process-identity.js';
import { readClusterVersion, readPostmaster } from './cluster-files.js';
import { readClusterRecord } from './cluster-record.js';
import { EmbeddedPostgresError } from './errors.js';
import { dbDirOf, PG_DATA_ENV, systemClusterDirOf } from './layout.js';
import { withLock } from './lock.js';
import { isPortAccepting } from './ports.js';
import {
  clusterRecordPath,
  readServerConfig,
  serverConfigPath,
  systemClusterDir,
  type ServerConfig,
} from './server-config.js';

/** The cluster `db destroy` would remove. */
export interface ClusterTarget {
  readonly dataDir: string;
  readonly logFile: string | null;
  /** server.json, when the home still has it (null: an orphan whose home was deleted). */
  readonly config: ServerConfig | null;
  /** The postmaster's pid and port while the server runs. */
  readonly pid: number | null;
  readonly port: number | null;
}

const STOP_WAIT_MS = 60_000;

/**
 * The home's cluster, or undefined when there is none: server.json's data dir, else the first
 * place a cluster for this home is made (LOOPWRIGHT_PG_DATA, `home/db/data`, as root
 * `/var/lib/loopwright/<hash>/data`) that holds one, described by its record if it has one.
 * Reads only.
 *
 * @example
 * const target = await findCluster(home, process.env);
 */
export async function findCluster(
  home: string,
  env: NodeJS.ProcessEnv,
): Promise<ClusterTarget | undefined> {
  const stored = (await readServerConfig(home)) ?? null;
  const candidates = stored ? [stored.dataDir] : await orphanCandidates(home, env);
  for (const dataDir of candidates) {
    if ((await readClusterVersion(dataDir)) === undefined) continue;
    const config = stored ?? (await readClusterRecord(dataDir)) ?? null;
    const logFile = config?.logFile ?? path.join(path.dirname(dataDir), 'postgres.log');
    const live = await livePostmaster(dataDir);
    return { dataDir, logFile, config, pid: live?.pid ?? null, port: live?.port ?? null };
  }
  return undefined;
}

async function orphanCandidates(home: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const override = env[PG_DATA_ENV]?.trim();
  if (override) return [path.resolve(override)];
  return [path.join(dbDirOf(home), 'data'), path.join(await systemClusterDirOf(home), 'data')];
}

/**
 * Stop the cluster (fast shutdown: SIGINT to the postmaster, clients disconnected) and delete its
 * files and the home's server.json, under the home's start lock so no command starts it meanwhile.
 * Returns the paths removed.
 *
 * @example
 * const removed = await destroyCluster(home, target);
 */
export async function destroyCluster(home: string, target: ClusterTarget): Promise<string[]> {
  const lockDir = path.join(dbDirOf(home), 'lock');
  const work = async () => {
    await stopPostmaster(target.dataDir);
    const removed: string[] = [];
    const clusterDir = systemClusterDir(target.dataDir);
    const record = clusterRecordPath(target.dataDir);
    const paths = clusterDir
      ? [clusterDir, record!]
      : [target.dataDir, ...(target.logFile ? [target.logFile] : [])];
    for (const p of [...paths, serverConfigPath(home)]) {
      if (!(await fs.lstat(p).catch(() => null))) continue;
      await fs.rm(p, { recursive: true, force: true });
      removed.push(p);
    }
    return removed;
  };
  const hasDbDir = await fs.stat(dbDirOf(home)).catch(() => null);
  return hasDbDir ? withLock(lockDir, work) : work();
}

/**
 * The pid in postmaster.pid when that process lives and its port answers (a pid reused after a
 * reboot is never signalled).
 */
async function livePostmaster(dataDir: string): Promise<{ pid: number; port: number } | null> {
  const info = await readPostmaster(dataDir);
  if (!info || !isProcessAlive(info.pid) || !(await isPortAccepting(info.port))) return null;
  return info;
}

/** SIGINT (fast shutdown) and wait until the postmaster is gone; SIGQUIT if it hangs. */
async function stopPostmaster(dataDir: string): Promise<void> {
  const info = await livePostmaster(dataDir);
  if (info === null) return;
  process.kill(info.pid, 'SIGINT');
  const deadline = Date.now() + STOP_WAIT_MS;
  while (isProcessAlive(info.pid)) {
    if (Date.now() > deadline) {
      process.kill(info.pid, 'SIGQUIT');
      await sleep(2000);
      if (isProcessAlive(info.pid))
        throw new EmbeddedPostgresError(
          'PG_STOP_FAILED',
          `the server of ${dataDir} (pid ${info.pid}) did not stop; stop it and run again`,
        );
      return;
    }
    await sleep(100);
  }
}
