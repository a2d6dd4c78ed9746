import fs from 'node:fs/promises';
import path from 'node:path';
import { EmbeddedPostgresError } from './errors.js';

/** What `postmaster.pid` says about a running (or crashed) server. */
export interface PostmasterInfo {
  readonly pid: number;
  readonly port: number;
}

/**
 * The Postgres major version a data directory was initialised with (its `PG_VERSION` file), or
 * `undefined` when it holds no cluster.
 */
export async function readClusterVersion(dataDir: string): Promise<number | undefined> {
  const text = await readClusterFile(dataDir, 'PG_VERSION');
  return text === undefined ? undefined : Number.parseInt(text, 10);
}

/**
 * Parse `postmaster.pid` (line 1: pid, line 4: port); `undefined` when the file is absent, i.e.
 * the server is not running.
 */
export async function readPostmaster(dataDir: string): Promise<PostmasterInfo | undefined> {
  const text = await readClusterFile(dataDir, 'postmaster.pid');
  if (text === undefined) return undefined;
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  return Number.isFinite(pid) && Number.isFinite(port) ? { pid, port } : undefined;
}

async function readClusterFile(dataDir: string, name: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path.join(dataDir, name), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new EmbeddedPostgresError(
      'PG_DATA_DIR_INACCESSIBLE',
      `Cannot read ${path.join(dataDir, name)} (${code}): the cluster belongs to another OS ` +
        'user. Run loopwright as the user that initialised it.',
      { cause: err },
    );
  }
}
