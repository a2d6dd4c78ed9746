import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { PgBinaries } from './binaries.js';
import { recoverOrphanCluster, sweepStaleClusterRecords } from './cluster-record.js';
import { EmbeddedPostgresError } from './errors.js';
import { giveTo } from './fs-access.js';
import { createDataDir, planClusterLayout } from './layout.js';
import type { ServerOsUser } from './os-user.js';
import { findFreePort } from './ports.js';
import { runTool } from './run-tool.js';
import {
  generatePassword,
  SERVER_DATABASE,
  SERVER_ROLE,
  writeServerConfig,
  type ServerConfig,
} from './server-config.js';

// Appended to postgresql.conf: TCP on loopback only, and no Unix socket that could collide with
// a system server's /var/run/postgresql. The port is passed on each start (pg_ctl -o "-p N").
const SERVER_SETTINGS = `
# Added by loopwright: loopback TCP only, no Unix socket; the port comes from server.json.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
`;

/**
 * Create a new cluster for `home`: choose its place, run initdb (scram-sha-256, role
 * `loopwright` with a random password, UTF8, C locale), pick a free port, and record it all in
 * server.json. A cluster already in the planned place whose home was deleted is reused when its
 * record survives (cluster-record.ts); otherwise the error names `loopwright db destroy`. Callers
 * hold the home's lock.
 *
 * @example
 * const config = await initialiseCluster(home, binaries, pgUser, process.env);
 */
export async function initialiseCluster(
  home: string,
  binaries: PgBinaries,
  user: ServerOsUser | undefined,
  env: NodeJS.ProcessEnv,
): Promise<ServerConfig> {
  const layout = await planClusterLayout(home, user, env);
  if (user) await sweepStaleClusterRecords();
  const orphan = await recoverOrphanCluster(home, layout.dataDir);
  if (orphan) {
    // Its home was deleted; the record beside the cluster still knows the password: reuse it.
    await writeServerConfig(home, orphan);
    return orphan;
  }
  await createDataDir(layout.dataDir, user);
  const password = generatePassword();
  await runInitdb(binaries, layout.dataDir, password, user);
  await fs.appendFile(path.join(layout.dataDir, 'postgresql.conf'), SERVER_SETTINGS);
  const config: ServerConfig = {
    version: 1,
    ...layout,
    port: await findFreePort(),
    user: SERVER_ROLE,
    password,
    database: SERVER_DATABASE,
    ...(user ? { osUser: user.name } : {}),
    createdAt: new Date().toISOString(),
  };
  await writeServerConfig(home, config);
  return config;
}

async function runInitdb(
  binaries: PgBinaries,
  dataDir: string,
  password: string,
  user: ServerOsUser | undefined,
): Promise<void> {
  // Beside the data dir, which the server OS user can reach (a root-only /tmp file is not).
  const parent = path.dirname(dataDir);
  const pwfile = path.join(parent, `.pwfile-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  try {
    await giveTo(pwfile, user);
    const { exitCode, output } = await runTool(
      binaries.initdb,
      [
        '-D',
        dataDir,
        '--auth=scram-sha-256',
        `--username=${SERVER_ROLE}`,
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--locale=C',
        '--no-instructions',
      ],
      user,
      parent,
    );
    if (exitCode !== 0) {
      const tail = output.trimEnd().split('\n').slice(-20).join('\n');
      throw new EmbeddedPostgresError(
        'PG_INIT_FAILED',
        `initdb failed for ${dataDir} (exit ${exitCode}):\n${tail}`,
      );
    }
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}
