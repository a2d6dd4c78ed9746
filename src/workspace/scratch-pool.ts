/**
 * Scratch directories kept between gates, so that a gate on a large tree writes only what differs
 * from the last one instead of every file again (a merge check and the live check after it share
 * all but none; RED, GREEN and the merge check of one ticket differ by a few files).
 *
 * A kept directory is trusted for nothing: before it is handed out again every entry in it is
 * looked at (`lstat`, no reads) and anything the pool did not write or cannot vouch for is
 * removed; the caller then writes what is missing. A file is vouched for only when the tree wants
 * exactly the blob and mode the pool wrote there, it is still the same inode with the same size,
 * and its status-change time (ctime, which no unprivileged process can set: every write, chmod,
 * chown, rename or link moves it to "now") is older than the moment the directory was last handed
 * out. Directories are entered, never trusted: one the tree does not have is removed with all
 * inside it, and a wanted one gets git's 0755 back.
 *
 * The pool is this process's (a map in memory): directories are named after their process (see
 * scratch-checkout.ts), so one a killed process left behind is swept like any other scratch
 * checkout. At most {@link MAX_FREE_PER_TREE} free directories per repository and
 * {@link MAX_FREE} in all are kept; the factory drains the pool when it stops.
 */
import {
  type BigIntStats,
  chmodSync,
  lstatSync,
  readdirSync,
  rmSync,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import path from 'node:path';
import { setImmediate, setTimeout as delay } from 'node:timers/promises';
import { STAT_SLICE } from './sync-stat.js';

/** What the pool wrote at one path of a kept directory. */
export interface PooledFile {
  readonly mode: string;
  readonly sha: string;
  readonly ino: bigint;
  readonly size: bigint;
}

/** A scratch directory and what the pool knows it holds. */
export interface PooledScratch {
  readonly dir: string;
  /** Repository-relative path -> the blob written there (regular files and symlinks). */
  files: Map<string, PooledFile>;
  /** The directory's ctime (ns) when it was last handed to a gate; 0 = never handed out. */
  handedOutAt: bigint;
}

/** The tree a directory must hold after {@link pruneToTree}: blobs and links, and directories. */
export interface WantedTree {
  /** Path -> mode and blob of every regular file and symlink. */
  readonly files: ReadonlyMap<string, { readonly mode: string; readonly sha: string }>;
  /** Every directory, gitlinks (kept as empty directories) included. */
  readonly dirs: ReadonlySet<string>;
}

/** Free directories kept per (scratch root, repository). */
const MAX_FREE_PER_TREE = 2;
/** Free directories kept in all. */
const MAX_FREE = 8;

const free = new Map<string, PooledScratch[]>();

function keyOf(root: string, gitDir: string): string {
  return `${root}\0${gitDir}`;
}

/** A free directory of `root` last used for the repository at `gitDir`, taken out of the pool. */
export function takePooled(root: string, gitDir: string): PooledScratch | undefined {
  const list = free.get(keyOf(root, gitDir));
  const taken = list?.pop();
  if (list?.length === 0) free.delete(keyOf(root, gitDir));
  return taken;
}

/**
 * Put a directory back for the next gate on the same repository; false when the pool is full
 * (the caller removes it then).
 */
export function givePooled(root: string, gitDir: string, scratch: PooledScratch): boolean {
  let total = 0;
  for (const list of free.values()) total += list.length;
  const key = keyOf(root, gitDir);
  const list = free.get(key) ?? [];
  if (list.length >= MAX_FREE_PER_TREE || total >= MAX_FREE) return false;
  list.push(scratch);
  free.set(key, list);
  return true;
}

/** Take every free directory (under `root`, or all) out of the pool, for the caller to remove. */
export function takeAllPooled(root?: string): PooledScratch[] {
  const taken: PooledScratch[] = [];
  for (const [key, list] of free) {
    if (root !== undefined && !key.startsWith(`${root}\0`)) continue;
    taken.push(...list);
    free.delete(key);
  }
  return taken;
}

/**
 * Mark the moment `scratch` is handed to a gate: a ctime of the directory's (the file system's
 * clock, as every later change will read it) later than every change made to the directory so
 * far. Anything changed from here on has a ctime at least this one and is not vouched for again;
 * everything written or handed to the sandbox user before it is.
 *
 * A file system stamps changes with a clock that may stand still for a tick (a few ms): the files
 * just written and chowned then share their ctime with a stamp taken at once, fail the strict
 * "older than the hand-out" test next time and are written again, for ever. So the directory is
 * touched until its ctime moves past the first reading (at once where the kernel hands out fine
 * timestamps once one was read, Linux 6.13 on; within a tick elsewhere). Should it not move within
 * {@link MAX_STAMP_WAITS} waits, the first reading stands: it only makes the pool rewrite more.
 */
export async function stampHandout(scratch: PooledScratch): Promise<void> {
  const first = touchedCtime(scratch.dir);
  let stamp = touchedCtime(scratch.dir);
  for (let waits = 0; stamp <= first && waits < MAX_STAMP_WAITS; waits++) {
    await delay(1);
    stamp = touchedCtime(scratch.dir);
  }
  scratch.handedOutAt = stamp;
}

/** Waits of ~1 ms for the file system's clock to move on (a tick is 1-10 ms). */
const MAX_STAMP_WAITS = 12;

/** Set the directory's times to now; its ctime afterwards (ns). */
function touchedCtime(dir: string): bigint {
  const now = new Date();
  utimesSync(dir, now, now);
  return lstatSync(dir, { bigint: true }).ctimeNs;
}

/**
 * Remove from `scratch.dir` everything that is not `wanted` or not vouched for (see the module
 * comment), restore wanted directories' permissions, and return the paths of the files kept; the
 * caller writes every other wanted file and directory. `scratch.files` is reduced to the kept
 * ones. Throws when the directory cannot be walked or cleaned (the caller discards it then).
 */
export async function pruneToTree(
  scratch: PooledScratch,
  wanted: WantedTree,
): Promise<Set<string>> {
  const kept = new Set<string>();
  const pending = [''];
  let looked = 0;
  while (pending.length > 0) {
    const rel = pending.pop()!;
    for (const name of readdirSync(path.join(scratch.dir, rel))) {
      if (++looked % STAT_SLICE === 0) await setImmediate();
      const child = rel ? `${rel}/${name}` : name;
      const full = path.join(scratch.dir, child);
      const info = lstatSync(full, { bigint: true });
      if (info.isDirectory()) {
        if (!wanted.dirs.has(child)) {
          rmSync(full, { recursive: true, force: true });
          continue;
        }
        if ((info.mode & 0o7777n) !== 0o755n) chmodSync(full, 0o755);
        pending.push(child);
        continue;
      }
      if (vouchedFor(scratch, child, info, wanted)) kept.add(child);
      else unlinkSync(full);
    }
  }
  const files = new Map<string, PooledFile>();
  for (const p of kept) files.set(p, scratch.files.get(p)!);
  scratch.files = files;
  return kept;
}

function vouchedFor(
  scratch: PooledScratch,
  rel: string,
  info: BigIntStats,
  wanted: WantedTree,
): boolean {
  const want = wanted.files.get(rel);
  const had = scratch.files.get(rel);
  if (!want || !had || had.sha !== want.sha || had.mode !== want.mode) return false;
  const typeOk = want.mode === '120000' ? info.isSymbolicLink() : info.isFile();
  return (
    typeOk &&
    info.ino === had.ino &&
    info.size === had.size &&
    info.nlink === 1n &&
    scratch.handedOutAt > 0n &&
    info.ctimeNs < scratch.handedOutAt
  );
}
