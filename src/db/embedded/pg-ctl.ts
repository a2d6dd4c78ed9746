import path from 'node:path';
import type { PgBinaries } from './binaries.js';
import { readPostmaster } from './cluster-files.js';
import { isProcessAlive } from '../../agents/process-identity.js';
import type { ServerOsUser } from './os-user.js';
import { isPortAccepting } from './ports.js';
import { runTool, type ToolResult } from './run-tool.js';
import type { ServerConfig } from './server-config.js';

/** Whether a cluster's server is up, and where. */
export interface ClusterState {
  readonly running: boolean;
  readonly pid?: number;
  readonly port?: number;
}

const PG_CTL_WAIT_SECONDS = '120';

/**
 * Whether the server is up, without spawning anything: `postmaster.pid` exists, its pid is
 * alive, and its port accepts TCP connections (guards against a pid reused after a reboot).
 *
 * @example
 * const { running, port } = await readClusterState(config);
 */
export async function readClusterState(config: ServerConfig): Promise<ClusterState> {
  const info = await readPostmaster(config.dataDir);
  if (!info || !isProcessAlive(info.pid)) return { running: false };
  if (!(await isPortAccepting(info.port))) return { running: false, pid: info.pid };
  return { running: true, pid: info.pid, port: info.port };
}

/**
 * `pg_ctl start -w`: the server daemonizes (own session, output to the log file) and outlives
 * this process. Returns the tool result; the caller interprets failures.
 */
export function pgCtlStart(
  binaries: PgBinaries,
  config: ServerConfig,
  user: ServerOsUser | undefined,
): Promise<ToolResult> {
  const args = [
    'start',
    '-w',
    '-t',
    PG_CTL_WAIT_SECONDS,
    '-D',
    config.dataDir,
    '-l',
    config.logFile,
    '-o',
    `-p ${config.port}`,
  ];
  return runTool(binaries.pgCtl, args, user, path.dirname(config.dataDir));
}

/** `pg_ctl stop -m fast -w`: disconnect clients, shut down cleanly, wait until it is gone. */
export function pgCtlStop(
  binaries: PgBinaries,
  config: ServerConfig,
  user: ServerOsUser | undefined,
): Promise<ToolResult> {
  const args = ['stop', '-m', 'fast', '-w', '-t', PG_CTL_WAIT_SECONDS, '-D', config.dataDir];
  return runTool(binaries.pgCtl, args, user, path.dirname(config.dataDir));
}

/** `pg_ctl reload`: the running server re-reads its configuration (pg_hba.conf included). */
export function pgCtlReload(
  binaries: PgBinaries,
  config: ServerConfig,
  user: ServerOsUser | undefined,
): Promise<ToolResult> {
  return runTool(
    binaries.pgCtl,
    ['reload', '-D', config.dataDir],
    user,
    path.dirname(config.dataDir),
  );
}
