/**
 * The disk `status` reports: what loopwright's home holds — transcripts, workspaces, scratch
 * checkouts, the database folder — measured like `du` within a small time budget, so `status`
 * stays fast on a home with large workspaces (an unfinished walk is a lower bound, shown `≥`).
 * Imports only node:fs helpers.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { homeDirs } from '../config/home.js';
import { formatBytes, measureTree } from '../workspace/disk-usage.js';

/** Bytes on disk under the home, in total and per folder. */
export interface HomeDisk {
  readonly home: string;
  readonly bytes: number;
  readonly runs: number;
  readonly workspaces: number;
  readonly tmp: number;
  readonly db: number;
  /** False when the time budget ran out: every number is then a lower bound. */
  readonly complete: boolean;
}

/** Time `status` may spend walking the home (it overlaps the database queries). */
const BUDGET_MS = 150;

/**
 * Measure the home's folders in parallel under one deadline.
 *
 * @example
 * const disk = await measureHome('/srv/factory'); // { bytes: 73400320, runs: 1048576, ... }
 */
export async function measureHome(home: string, budgetMs = BUDGET_MS): Promise<HomeDisk> {
  const limits = { deadline: Date.now() + budgetMs };
  const dirs = homeDirs(home);
  const named = new Set([dirs.runs, dirs.workspaces, dirs.tmp, dirs.db]);
  const others = (await readdir(home).catch(() => [] as string[]))
    .map((name) => path.join(home, name))
    .filter((p) => !named.has(p));
  const [runs, workspaces, tmp, db, ...rest] = await Promise.all(
    [dirs.runs, dirs.workspaces, dirs.tmp, dirs.db, ...others].map((p) => measureTree(p, limits)),
  );
  const all = [runs!, workspaces!, tmp!, db!, ...rest];
  return {
    home,
    bytes: all.reduce((sum, u) => sum + u.bytes, 0),
    runs: runs!.bytes,
    workspaces: workspaces!.bytes,
    tmp: tmp!.bytes,
    db: db!.bytes,
    complete: all.every((u) => !u.truncated),
  };
}

/** `disk: 70 MiB under /srv/factory (runs 1.0 MiB, workspaces 64 MiB, tmp 0 B, db 5.0 MiB)` */
export function describeHomeDisk(disk: HomeDisk): string {
  const at = disk.complete ? '' : '≥ ';
  const size = (n: number) => `${at}${formatBytes(n)}`;
  return (
    `disk: ${size(disk.bytes)} under ${disk.home} (runs ${size(disk.runs)}, ` +
    `workspaces ${size(disk.workspaces)}, tmp ${size(disk.tmp)}, db ${size(disk.db)}; ` +
    'loopwright gc prunes final tickets)'
  );
}
