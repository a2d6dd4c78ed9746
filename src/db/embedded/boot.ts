import type { PgBinaries } from './binaries.js';
import { readClusterVersion, readPostmaster } from './cluster-files.js';
import { waitForServer } from './database.js';
import { EmbeddedPostgresError } from './errors.js';
import { isProcessAlive } from '../../agents/process-identity.js';
import { logFileSize, prepareLogFile, readLogSince, readLogTail } from './log-file.js';
import type { ServerOsUser } from './os-user.js';
import { pgCtlStart } from './pg-ctl.js';
import { findFreePort, isPortFree } from './ports.js';
import type { ToolResult } from './run-tool.js';
import { writeServerConfig, type ServerConfig } from './server-config.js';

/** The configuration the server runs with (the port may have moved) and whether we started it. */
export interface BootResult {
  readonly config: ServerConfig;
  readonly started: boolean;
}

const START_ATTEMPTS = 3;
const ADOPT_TIMEOUT_MS = 15_000;

/**
 * Start a stopped cluster. Moves to a free port (and records it) when the stored one is taken,
 * retries if another listener grabs the port during start-up, and adopts a server that someone
 * else started meanwhile. Callers hold the home's lock.
 *
 * @example
 * const { config, started } = await bootCluster(home, binaries, pgUser, storedConfig);
 */
export async function bootCluster(
  home: string,
  binaries: PgBinaries,
  user: ServerOsUser | undefined,
  stored: ServerConfig,
): Promise<BootResult> {
  await assertVersionMatches(binaries, stored.dataDir);
  let config = stored;
  for (let attempt = 1; ; attempt++) {
    config = await ensureFreePort(home, config);
    await prepareLogFile(config.logFile, user);
    const offset = await logFileSize(config.logFile);
    const result = await pgCtlStart(binaries, config, user);
    if (result.exitCode === 0) return { config, started: true };
    const adopted = await adoptRunningServer(home, config);
    if (adopted) return { config: adopted, started: false };
    const written = await readLogSince(config.logFile, offset);
    if (attempt < START_ATTEMPTS && /address already in use/i.test(written)) continue;
    throw await startFailure(config, result);
  }
}

async function ensureFreePort(home: string, config: ServerConfig): Promise<ServerConfig> {
  if (await isPortFree(config.port)) return config;
  const moved = { ...config, port: await findFreePort() };
  await writeServerConfig(home, moved);
  return moved;
}

/** `pg_ctl start` also fails when a server is already up: if it is ours and answers, use it. */
async function adoptRunningServer(
  home: string,
  config: ServerConfig,
): Promise<ServerConfig | undefined> {
  const info = await readPostmaster(config.dataDir);
  if (!info || !isProcessAlive(info.pid)) return undefined;
  const running = { ...config, port: info.port };
  if (!(await waitForServer(running, ADOPT_TIMEOUT_MS))) return undefined;
  if (running.port !== config.port) await writeServerConfig(home, running);
  return running;
}

async function assertVersionMatches(binaries: PgBinaries, dataDir: string): Promise<void> {
  const version = await readClusterVersion(dataDir);
  if (version === undefined || version === binaries.major) return;
  throw new EmbeddedPostgresError(
    'PG_VERSION_MISMATCH',
    `${dataDir} was created by Postgres ${version} but the bundled server is Postgres ` +
      `${binaries.major}. Dump it with a Postgres ${version} pg_dump and restore it, or move ` +
      'the directory aside to start afresh.',
  );
}

async function startFailure(
  config: ServerConfig,
  result: ToolResult,
): Promise<EmbeddedPostgresError> {
  const pgCtlOutput = result.output.trimEnd().split('\n').slice(-5).join('\n');
  const tail = await readLogTail(config.logFile);
  return new EmbeddedPostgresError(
    'PG_START_FAILED',
    `Postgres did not start (data ${config.dataDir}, port ${config.port}, pg_ctl exit ` +
      `${result.exitCode}).\n${pgCtlOutput}\nLast lines of ${config.logFile}:\n${tail}`,
  );
}
