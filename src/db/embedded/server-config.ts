import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EmbeddedPostgresError } from './errors.js';
import { dbDirOf, SYSTEM_DIR } from './layout.js';

/** Database role created by initdb and used by loopwright. */
export const SERVER_ROLE = 'loopwright';
/** Database loopwright keeps its state in. */
export const SERVER_DATABASE = 'loopwright';

const serverConfigSchema = z.object({
  version: z.literal(1),
  dataDir: z.string().min(1),
  logFile: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  user: z.string().min(1),
  password: z.string().min(1),
  database: z.string().min(1),
  osUser: z.string().min(1).optional(),
  createdAt: z.string(),
});

/**
 * `LOOPWRIGHT_HOME/db/server.json` (mode 0600): how to find and reach the embedded cluster.
 * Every command reads it, so the cluster may live outside the home (see layout.ts).
 */
export type ServerConfig = z.infer<typeof serverConfigSchema>;

/** Path of server.json for a home. */
export function serverConfigPath(home: string): string {
  return path.join(dbDirOf(home), 'server.json');
}

/**
 * Read and validate server.json; `undefined` if the cluster was never initialised.
 *
 * @example
 * const config = await readServerConfig(home);
 * if (config) connect(buildServerUrl(config));
 */
export async function readServerConfig(home: string): Promise<ServerConfig | undefined> {
  const file = serverConfigPath(home);
  let raw: string;
  try {
    // One small file, read synchronously: every sandboxed launch reads it (the hides), where
    // four thread-pool hops cost more than the read on a busy machine.
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseServerConfig(raw, file);
}

/** Validate a server description read from `file` (server.json or a cluster record). */
export function parseServerConfig(raw: string, file: string): ServerConfig {
  try {
    return serverConfigSchema.parse(JSON.parse(raw));
  } catch (cause) {
    throw new EmbeddedPostgresError(
      'PG_CONFIG_INVALID',
      `${file} is not a valid embedded server description: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * Write server.json atomically (temp file + rename) with mode 0600: it holds the password. A
 * cluster under /var/lib/loopwright gets the same description recorded beside it
 * (cluster-record.ts), so it can be found again if the home is deleted.
 */
export async function writeServerConfig(home: string, config: ServerConfig): Promise<void> {
  await writeAtomically(serverConfigPath(home), config);
  const record = clusterRecordPath(config.dataDir);
  if (record) await writeAtomically(record, config);
}

async function writeAtomically(file: string, config: ServerConfig): Promise<void> {
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await fs.writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temp, file);
}

/** `/var/lib/loopwright/<hash>` for a data dir directly inside such a folder, else null. */
export function systemClusterDir(dataDir: string): string | null {
  const clusterDir = path.dirname(dataDir);
  return path.dirname(clusterDir) === SYSTEM_DIR && /^[0-9a-f]{12}$/.test(path.basename(clusterDir))
    ? clusterDir
    : null;
}

/** Where the record of a system cluster lives, or null for a cluster elsewhere. */
export function clusterRecordPath(dataDir: string): string | null {
  const clusterDir = systemClusterDir(dataDir);
  return clusterDir ? `${clusterDir}.json` : null;
}

/**
 * The connection URL for the loopwright database.
 *
 * @example
 * buildServerUrl(config); // 'postgres://loopwright:s3cr%2Ft@127.0.0.1:40123/loopwright'
 */
export function buildServerUrl(config: ServerConfig, database = config.database): string {
  const user = encodeURIComponent(config.user);
  const password = encodeURIComponent(config.password);
  return `postgres://${user}:${password}@127.0.0.1:${config.port}/${encodeURIComponent(database)}`;
}

/** A fresh random password for the cluster's superuser role. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}
