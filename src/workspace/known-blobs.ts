/**
 * Blob ids of workspace files this process has already hashed, remembered with the file's status
 * so that an unchanged file is not read and hashed again on every job (a 2,000-file workspace is
 * checked before each agent run and staged after it).
 *
 * A remembered id is used only while the file's status is exactly the one it was hashed under:
 * the same inode, size, permissions, a single link and the same status-change time (ctime). Every
 * write, chmod, chown, rename or link sets ctime to the file system's "now", and no process can
 * set it back without changing the system clock, so an unchanged ctime means unchanged bytes —
 * provided the file had not been changed within the same clock tick as the hashing. Files changed
 * less than {@link SETTLED_NS} before the hashing began are therefore never remembered (git's
 * "racily clean" entries, handled the same way).
 *
 * This process's memory only: another orchestrator (or this one after a restart) hashes again.
 */
import type { BigIntStats } from 'node:fs';
import { LruCache } from './lru-cache.js';

/** A change this recent (relative to the start of hashing) may share its ctime with a later one. */
const SETTLED_NS = 50_000_000n;
/** Workspaces remembered at once (least recently used forgotten first). */
const MAX_ROOTS = 64;

interface Known {
  readonly sha: string;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mode: bigint;
  readonly ctimeNs: bigint;
}

const roots = new LruCache<string, Map<string, Known>>(MAX_ROOTS);

/** The moment hashing starts, to pass to {@link rememberBlob} (ns since the epoch). */
export function hashingStarted(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * The blob id remembered for `rel` under `root`, when `info` (a fresh `lstat` with
 * `bigint: true`) shows the file unchanged since it was hashed; undefined otherwise.
 *
 * @example
 * ```ts
 * const info = await lstat(full, { bigint: true });
 * const sha = knownBlob(root, rel, info) ?? objectId('blob', await readFile(full), algorithm);
 * ```
 */
export function knownBlob(root: string, rel: string, info: BigIntStats): string | undefined {
  const known = roots.get(root)?.get(rel);
  if (!known) return undefined;
  const same =
    known.ino === info.ino &&
    known.size === info.size &&
    known.mode === info.mode &&
    known.ctimeNs === info.ctimeNs &&
    info.nlink === 1n;
  return same ? known.sha : undefined;
}

/**
 * Remember that the file at `rel`, whose status before reading was `info`, hashed to `sha`;
 * ignored when it changed less than {@link SETTLED_NS} before `started` or has several links.
 */
export function rememberBlob(
  root: string,
  rel: string,
  info: BigIntStats,
  sha: string,
  started: bigint,
): void {
  if (info.nlink !== 1n || info.ctimeNs >= started - SETTLED_NS) return;
  const files = roots.get(root) ?? roots.set(root, new Map());
  files.set(rel, { sha, ino: info.ino, size: info.size, mode: info.mode, ctimeNs: info.ctimeNs });
}
