/**
 * A cluster kept outside the home (as root: `/var/lib/loopwright/<hash>/`) outlives the home:
 * deleting `~/.loopwright` leaves it with a password nobody knows. So its server.json is also
 * recorded beside it, as `/var/lib/loopwright/<hash>.json` (root's, 0600, in a root-owned
 * directory that the server's OS user cannot write), and a start that finds the cluster but no
 * server.json in the home restores it from there. Clusters under the home go with the home and
 * need no record.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { readClusterVersion } from './cluster-files.js';
import { EmbeddedPostgresError } from './errors.js';
import { SYSTEM_DIR } from './layout.js';
import {
  clusterRecordPath,
  parseServerConfig,
  serverConfigPath,
  type ServerConfig,
  writeServerConfig,
} from './server-config.js';

/** The record of the cluster in `dataDir`, if one exists and describes that very directory. */
export async function readClusterRecord(dataDir: string): Promise<ServerConfig | undefined> {
  const file = clusterRecordPath(dataDir);
  if (!file) return undefined;
  const stat = await fs.lstat(file).catch(() => undefined);
  // Only a regular file of this user's (root's) counts: nobody else could have written it there.
  if (!stat?.isFile() || stat.uid !== process.getuid?.()) return undefined;
  const config = parseServerConfig(await fs.readFile(file, 'utf8'), file);
  return config.dataDir === dataDir ? config : undefined;
}

/**
 * A new home's planned data dir already holds a cluster (its home was deleted): the recorded
 * description to reuse it with, or an error that says exactly what to run.
 */
export async function recoverOrphanCluster(
  home: string,
  dataDir: string,
): Promise<ServerConfig | undefined> {
  if ((await readClusterVersion(dataDir)) === undefined) return undefined;
  const recorded = await readClusterRecord(dataDir);
  if (recorded) return recorded;
  throw new EmbeddedPostgresError(
    'PG_CONFIG_MISSING',
    `${dataDir} already holds a Postgres cluster but ${serverConfigPath(home)} is missing ` +
      '(was LOOPWRIGHT_HOME deleted?) and its password is recorded nowhere else. Run ' +
      '"loopwright db destroy" to stop and delete that cluster (its tickets are lost), or ' +
      'restore server.json from a backup.',
  );
}

/**
 * Write the record of a system cluster made before records existed (one lstat when it exists).
 */
export async function ensureClusterRecord(home: string, config: ServerConfig): Promise<void> {
  const file = clusterRecordPath(config.dataDir);
  if (!file || (await fs.lstat(file).catch(() => undefined))) return;
  await writeServerConfig(home, config);
}

/**
 * Remove records whose cluster folder is gone (deleted by hand, or by a test's clean-up that
 * predates records). A record is written only after its folder exists, so none in use is touched.
 */
export async function sweepStaleClusterRecords(): Promise<void> {
  const names = await fs.readdir(SYSTEM_DIR).catch(() => [] as string[]);
  for (const name of names) {
    const match = /^([0-9a-f]{12})\.json$/.exec(name);
    if (!match) continue;
    const dir = path.join(SYSTEM_DIR, match[1]!);
    if (await fs.lstat(dir).catch(() => null)) continue;
    await fs.rm(path.join(SYSTEM_DIR, name), { force: true });
  }
}
