import fs from 'node:fs/promises';
import { giveTo } from './fs-access.js';
import type { ServerOsUser } from './os-user.js';

/** Server logs above this size are rotated (one previous file kept) before each start. */
export const MAX_LOG_BYTES = 10 * 1024 * 1024;
/** How many trailing log lines error messages include. */
export const LOG_TAIL_LINES = 20;

/**
 * Create the server log file if needed, rotating it when large, and hand it to the server OS
 * user: `pg_ctl -l` opens it as that user, who may not be able to create files in its directory.
 */
export async function prepareLogFile(
  logFile: string,
  user: ServerOsUser | undefined,
): Promise<void> {
  const stat = await fs.stat(logFile).catch(() => undefined);
  if (stat && stat.size > MAX_LOG_BYTES) await fs.rename(logFile, `${logFile}.1`);
  const handle = await fs.open(logFile, 'a', 0o600);
  await handle.close();
  await giveTo(logFile, user);
}

/**
 * The last `lines` lines of a log file, or a note saying it could not be read.
 *
 * @example
 * const tail = await readLogTail('/var/lib/loopwright/3f2a9c0b1d4e/postgres.log');
 */
export async function readLogTail(logFile: string, lines = LOG_TAIL_LINES): Promise<string> {
  try {
    const handle = await fs.open(logFile, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 64 * 1024);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      await handle.close();
    }
  } catch (err) {
    return `(could not read ${logFile}: ${(err as Error).message})`;
  }
}

/** Current size of the log file (0 if missing): remember it to read only what a start wrote. */
export async function logFileSize(logFile: string): Promise<number> {
  const stat = await fs.stat(logFile).catch(() => undefined);
  return stat?.size ?? 0;
}

/** Everything appended to the log file since byte `offset`. */
export async function readLogSince(logFile: string, offset: number): Promise<string> {
  const text = await fs.readFile(logFile).catch(() => Buffer.alloc(0));
  return text.subarray(Math.min(offset, text.length)).toString('utf8');
}
