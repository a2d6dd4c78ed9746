import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EmbeddedPostgresError } from './errors.js';
import { dbDirOf } from './layout.js';

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
    raw = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
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

/** Write server.json atomically (temp file + rename) with mode 0600: it holds the password. */
export async function writeServerConfig(home: string, config: ServerConfig): Promise<void> {
  const file = serverConfigPath(home);
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await fs.writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temp, file);
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
