/**
 * How much disk a directory tree takes, like `du -s`: allocated blocks of every file, directory
 * and symlink under it, never following a symlink or crossing into another tree through one. The
 * walk can be bounded (entries, deadline) so that `status` stays fast on a home with large
 * workspaces; a bounded answer says it is a lower bound. Only `node:fs`: cheap to import.
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/** What {@link measureTree} found. */
export interface TreeUsage {
  /** Bytes allocated on disk (st_blocks × 512), the number `du` prints. */
  readonly bytes: number;
  /** Entries counted (files, directories, symlinks), the root included. */
  readonly entries: number;
  /** True when a bound stopped the walk: `bytes` is then a lower bound. */
  readonly truncated: boolean;
}

/** Bounds for {@link measureTree}; unbounded when absent. */
export interface MeasureLimits {
  readonly maxEntries?: number;
  /** `Date.now()` value after which the walk stops. */
  readonly deadline?: number;
}

const EMPTY: TreeUsage = { bytes: 0, entries: 0, truncated: false };

/**
 * Disk used by `root` and everything below it; 0 when it does not exist. Unreadable entries are
 * skipped (counted as what lstat says, if anything).
 *
 * @example
 * ```ts
 * const { bytes } = await measureTree('/srv/factory/runs');
 * const quick = await measureTree(home, { maxEntries: 20_000, deadline: Date.now() + 300 });
 * ```
 */
export async function measureTree(root: string, limits: MeasureLimits = {}): Promise<TreeUsage> {
  const maxEntries = limits.maxEntries ?? Number.POSITIVE_INFINITY;
  const deadline = limits.deadline ?? Number.POSITIVE_INFINITY;
  let bytes = 0;
  let entries = 0;
  const pending = [root];
  while (pending.length > 0) {
    if (entries >= maxEntries || Date.now() > deadline) return { bytes, entries, truncated: true };
    const current = pending.pop()!;
    const info = await lstat(current).catch(() => null);
    if (!info) continue;
    entries += 1;
    bytes += info.blocks * 512;
    if (!info.isDirectory()) continue;
    const names = await readdir(current).catch(() => [] as string[]);
    for (const name of names) pending.push(path.join(current, name));
  }
  return entries === 0 ? EMPTY : { bytes, entries, truncated: false };
}

/**
 * `1536` -> `1.5 KiB`; binary units, one decimal below 10.
 *
 * @example
 * formatBytes(0); // '0 B'
 * formatBytes(5 * 1024 ** 3); // '5.0 GiB'
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
