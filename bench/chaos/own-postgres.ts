/**
 * A Postgres server of the harness's own (an embedded cluster under a throw-away home), so that
 * faults can be injected into it: restarts (`pg_ctl restart -m fast|immediate`), outages (stop,
 * wait, start on the same port), terminated backends. Never touches any other server.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { withClient } from '../../src/db/admin.js';
import { resolveBinaries } from '../../src/db/embedded/binaries.js';
import { ensureBinariesReachable } from '../../src/db/embedded/binaries-staging.js';
import { SYSTEM_DIR } from '../../src/db/embedded/layout.js';
import { isRoot, type ServerOsUser } from '../../src/db/embedded/os-user.js';
import { runTool } from '../../src/db/embedded/run-tool.js';
import { readServerConfig, type ServerConfig } from '../../src/db/embedded/server-config.js';
import { ensureEmbeddedServer, stopEmbeddedServer } from '../../src/db/embedded/index.js';

export interface OwnPostgres {
  /** URL of the `loopwright` database on it. */
  readonly url: string;
  readonly dataDir: string;
  /** `pg_ctl restart`: `fast` disconnects clients cleanly, `immediate` is a crash + recovery. */
  restart(mode: 'fast' | 'immediate'): Promise<void>;
  /** Stop, stay down for `ms`, start again on the same port. */
  outage(ms: number): Promise<void>;
  /** `pg_terminate_backend` every loopwright connection; returns how many. */
  terminateBackends(): Promise<number>;
  /** Stop the server and remove its files. */
  destroy(): Promise<void>;
}

/** Initialise and start a fresh cluster under a new temporary home. */
export async function startOwnPostgres(prefix = 'lw-pg-'): Promise<OwnPostgres> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const { url } = await ensureEmbeddedServer(home);
  const config = (await readServerConfig(home))!;
  const user = await ownerOf(config);
  const binaries = await ensureBinariesReachable(await resolveBinaries(), user);
  const cwd = path.dirname(config.dataDir);
  const pgCtl = async (args: string[]) => {
    const result = await runTool(binaries.pgCtl, args, user, cwd);
    if (result.exitCode !== 0)
      throw new Error(`pg_ctl ${args[0]} failed (${result.exitCode}): ${result.output}`);
  };
  const startArgs = ['-w', '-t', '120', '-D', config.dataDir, '-l', config.logFile];
  const portOption = ['-o', `-p ${config.port}`];
  return {
    url,
    dataDir: config.dataDir,
    restart: (mode) => pgCtl(['restart', '-m', mode, ...startArgs, ...portOption]),
    async outage(ms) {
      await pgCtl(['stop', '-m', 'fast', '-w', '-D', config.dataDir]);
      await new Promise((resolve) => setTimeout(resolve, ms));
      await pgCtl(['start', ...startArgs, ...portOption]);
    },
    terminateBackends: () =>
      withClient(url, async (client) => {
        const { rows } = await client.query<{ n: number }>(
          `select count(*) filter (where pg_terminate_backend(pid))::int as n from pg_stat_activity
           where application_name = 'loopwright' and pid <> pg_backend_pid()`,
        );
        return rows[0]?.n ?? 0;
      }),
    async destroy() {
      await stopEmbeddedServer(home).catch(() => {});
      const clusterDir = path.dirname(config.dataDir);
      if (clusterDir.startsWith(`${SYSTEM_DIR}/`))
        await fs.rm(clusterDir, { recursive: true, force: true });
      await fs.rm(home, { recursive: true, force: true });
    },
  };
}

async function ownerOf(config: ServerConfig): Promise<ServerOsUser | undefined> {
  if (!isRoot()) return undefined;
  const { uid, gid } = await fs.stat(config.dataDir);
  return { name: config.osUser ?? `uid ${uid}`, uid, gid };
}
