import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedPostgresError } from './errors.js';
import { isProcessAlive } from '../../agents/process-identity.js';

/** A lock whose holder has not refreshed it for this long is considered abandoned. */
export const LOCK_STALE_MS = 60_000;
const HEARTBEAT_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 180_000;

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
  readonly acquiredAt: string;
}

/**
 * Run `fn` while holding a cross-process lock: the directory `lockDir`, created atomically with
 * `mkdir`. The holder refreshes `owner.json` every 10 s; a lock is broken when its holder's pid
 * is dead (same host) or it went unrefreshed for {@link LOCK_STALE_MS}.
 *
 * @example
 * await withLock(path.join(home, 'db', 'lock'), () => initialiseCluster(...));
 */
export async function withLock<T>(
  lockDir: string,
  fn: () => Promise<T>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<T> {
  const owner = await acquire(lockDir, timeoutMs);
  const ownerFile = path.join(lockDir, 'owner.json');
  const heartbeat = setInterval(() => {
    const now = new Date();
    fs.utimes(ownerFile, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    await release(lockDir, owner);
  }
}

async function acquire(lockDir: string, timeoutMs: number): Promise<LockOwner> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
    try {
      await fs.mkdir(lockDir);
      const owner: LockOwner = {
        pid: process.pid,
        host: hostname(),
        token: randomBytes(8).toString('hex'),
        acquiredAt: new Date().toISOString(),
      };
      await fs.writeFile(path.join(lockDir, 'owner.json'), JSON.stringify(owner));
      return owner;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await isStale(lockDir)) {
      await breakLock(lockDir);
      continue;
    }
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(
        'PG_LOCK_TIMEOUT',
        `Timed out waiting for ${lockDir}; another loopwright process is initialising or ` +
          'starting the embedded database. If none is, remove that directory.',
      );
    }
    await sleep(delay);
  }
}

async function isStale(lockDir: string): Promise<boolean> {
  const ownerFile = path.join(lockDir, 'owner.json');
  // Between mkdir and writing owner.json the file is absent: judge by the directory's age.
  const stat = await fs.stat(ownerFile).catch(() => fs.stat(lockDir).catch(() => undefined));
  if (!stat) return false;
  if (Date.now() - stat.mtimeMs > LOCK_STALE_MS) return true;
  const owner = await readOwner(ownerFile);
  if (!owner || owner.host !== hostname() || owner.pid === process.pid) return false;
  return !isProcessAlive(owner.pid);
}

/** Move the stale lock aside first: rename is atomic, so only one breaker wins. */
async function breakLock(lockDir: string): Promise<void> {
  const aside = `${lockDir}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await fs.rename(lockDir, aside);
  } catch {
    return;
  }
  await fs.rm(aside, { recursive: true, force: true });
}

async function release(lockDir: string, owner: LockOwner): Promise<void> {
  const current = await readOwner(path.join(lockDir, 'owner.json'));
  // If our lock was broken as stale and re-taken, it is no longer ours to remove.
  if (current?.token === owner.token) await fs.rm(lockDir, { recursive: true, force: true });
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}
