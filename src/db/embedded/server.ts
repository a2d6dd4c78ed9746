import fs from 'node:fs/promises';
import path from 'node:path';
import { resolveBinaries, type PgBinaries } from './binaries.js';
import { ensureBinariesReachable } from './binaries-staging.js';
import { bootCluster } from './boot.js';
import { readClusterVersion, readPostmaster } from './cluster-files.js';
import { ensureClusterRecord } from './cluster-record.js';
import { ensureDatabase } from './database.js';
import { EmbeddedPostgresError } from './errors.js';
import { initialiseCluster } from './initdb.js';
import { assertDataDirOverride, dbDirOf, ensureDbDir } from './layout.js';
import { isProcessAlive } from '../../agents/process-identity.js';
import { withLock } from './lock.js';
import { isRoot, resolveServerOsUser, type ServerOsUser } from './os-user.js';
import { hardenHba } from './hba.js';
import { pgCtlReload, pgCtlStop, readClusterState } from './pg-ctl.js';
import {
  buildServerUrl,
  readServerConfig,
  serverConfigPath,
  type ServerConfig,
} from './server-config.js';

/** What `loopwright db status` reports about a home's embedded server. */
export interface EmbeddedStatus {
  initialised: boolean;
  running: boolean;
  url?: string;
  port?: number;
  dataDir?: string;
  pid?: number;
  logFile?: string;
  /** The OS user that runs the server when loopwright runs as root. */
  osUser?: string;
  home: string;
}

/**
 * Make sure the home's embedded server exists and runs: initialise it on first use, start it if
 * stopped, create the `loopwright` database. Idempotent and safe to call from several processes
 * at once. The server keeps running after this process exits.
 *
 * @example
 * const { url, started } = await ensureEmbeddedServer(resolveHome());
 */
export async function ensureEmbeddedServer(
  home: string,
): Promise<{ url: string; started: boolean }> {
  const running = await findRunning(home);
  if (running) {
    await hardenRunning(home, running);
    await ensureClusterRecord(home, running);
    return { url: buildServerUrl(running), started: false };
  }
  await ensureDbDir(home, isRoot());
  return withLock(lockDirOf(home), async () => {
    const again = await findRunning(home);
    if (again) {
      await hardenRunning(home, again);
      return { url: buildServerUrl(again), started: false };
    }
    let config = await readServerConfig(home);
    if (config) assertDataDirOverride(config.dataDir, process.env);
    const initialised = config && (await readClusterVersion(config.dataDir)) !== undefined;
    const { binaries, user } = await loadTools(initialised ? config : undefined);
    if (!config || !initialised)
      config = await initialiseCluster(home, binaries, user, process.env);
    await protectServerConfig(home);
    await hardenHba(config.dataDir);
    const booted = await bootCluster(home, binaries, user, config);
    await ensureClusterRecord(home, booted.config);
    await ensureDatabase(booted.config);
    return { url: buildServerUrl(booted.config), started: booted.started };
  });
}

/**
 * server.json holds the password: readable by the orchestrator alone (0600, its own file). A copy
 * restored with looser modes is tightened; one owned by someone else is refused.
 */
async function protectServerConfig(home: string): Promise<void> {
  const file = serverConfigPath(home);
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) return;
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid)
    throw new EmbeddedPostgresError(
      'PG_DATA_DIR_INACCESSIBLE',
      `${file} holds the database password but belongs to uid ${stat.uid}, not to this user ` +
        `(${uid}); chown it back or run loopwright as its owner.`,
    );
  if ((stat.mode & 0o077) !== 0) await fs.chmod(file, 0o600);
}

/** A running cluster whose pg_hba.conf trusted someone is fixed and told to reload. */
async function hardenRunning(home: string, config: ServerConfig): Promise<void> {
  await protectServerConfig(home);
  if (!(await hardenHba(config.dataDir))) return;
  const { binaries, user } = await loadTools(config);
  const result = await pgCtlReload(binaries, config, user);
  if (result.exitCode !== 0)
    throw new EmbeddedPostgresError(
      'PG_HBA_RELOAD_FAILED',
      `pg_hba.conf of ${config.dataDir} trusted connections; it was rewritten to scram-sha-256 ` +
        `but pg_ctl reload failed (exit ${result.exitCode}):\n${result.output}`,
    );
}

/**
 * `loopwright db start`: {@link ensureEmbeddedServer}, then report the status.
 *
 * @example
 * const { url, port } = await startEmbeddedServer(home);
 */
export async function startEmbeddedServer(home: string): Promise<EmbeddedStatus> {
  await ensureEmbeddedServer(home);
  return embeddedServerStatus(home);
}

/**
 * `loopwright db stop`: fast shutdown (clients disconnected, data flushed). A no-op when the
 * server is not running or was never initialised.
 *
 * @example
 * const { wasRunning } = await stopEmbeddedServer(home);
 */
export async function stopEmbeddedServer(home: string): Promise<{ wasRunning: boolean }> {
  if (!(await readServerConfig(home))) return { wasRunning: false };
  return withLock(lockDirOf(home), async () => {
    const config = await readServerConfig(home);
    const info = config && (await readPostmaster(config.dataDir));
    if (!config || !info || !isProcessAlive(info.pid)) return { wasRunning: false };
    const { binaries, user } = await loadTools(config);
    const result = await pgCtlStop(binaries, config, user);
    if (result.exitCode !== 0 && (await readClusterState(config)).running) {
      throw new EmbeddedPostgresError(
        'PG_STOP_FAILED',
        `pg_ctl stop failed for ${config.dataDir} (exit ${result.exitCode}):\n${result.output}`,
      );
    }
    return { wasRunning: true };
  });
}

/**
 * `loopwright db status`: read-only; spawns nothing and takes no lock.
 *
 * @example
 * const status = await embeddedServerStatus(home);
 * if (!status.running) console.error(`not running (log: ${status.logFile})`);
 */
export async function embeddedServerStatus(home: string): Promise<EmbeddedStatus> {
  const config = await readServerConfig(home);
  if (!config) return { initialised: false, running: false, home };
  const initialised = (await readClusterVersion(config.dataDir)) !== undefined;
  const state = await readClusterState(config);
  const live = { ...config, port: state.port ?? config.port };
  return {
    initialised,
    running: state.running,
    url: buildServerUrl(live),
    port: live.port,
    dataDir: config.dataDir,
    ...(state.pid !== undefined ? { pid: state.pid } : {}),
    logFile: config.logFile,
    ...(config.osUser ? { osUser: config.osUser } : {}),
    home,
  };
}

function lockDirOf(home: string): string {
  return path.join(dbDirOf(home), 'lock');
}

async function findRunning(home: string): Promise<ServerConfig | undefined> {
  const config = await readServerConfig(home);
  if (!config) return undefined;
  const state = await readClusterState(config);
  return state.running ? { ...config, port: state.port ?? config.port } : undefined;
}

/** Binaries and the OS user to run them as: as root, an existing cluster's owner. */
async function loadTools(
  existing: ServerConfig | undefined,
): Promise<{ binaries: PgBinaries; user: ServerOsUser | undefined }> {
  const user = existing ? await clusterOwner(existing) : await resolveServerOsUser(true);
  const binaries = await ensureBinariesReachable(await resolveBinaries(), user);
  return { binaries, user };
}

async function clusterOwner(config: ServerConfig): Promise<ServerOsUser | undefined> {
  if (!isRoot()) return undefined;
  const { uid, gid } = await fs.stat(config.dataDir);
  if (uid === 0) {
    throw new EmbeddedPostgresError(
      'PG_DATA_DIR_INACCESSIBLE',
      `${config.dataDir} is owned by root, and Postgres cannot run as root. ` +
        `chown it to an unprivileged user (e.g. "${config.osUser ?? 'postgres'}").`,
    );
  }
  return { name: config.osUser ?? `uid ${uid}`, uid, gid };
}
