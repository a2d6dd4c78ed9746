/**
 * Handing a writable tree to the sandbox user, so that file modes — not only mounts — decide what
 * a sandboxed process may write when loopwright runs as root.
 */
import { type BigIntStats, lchownSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { detectSandbox } from './detect.js';

/**
 * Give the sandbox user ownership of a writable tree (chown -R when loopwright runs as root and a
 * sandbox user exists; a no-op otherwise). `exclude` names top-level entries left alone (".git").
 * Symlinks are never followed (their own owner changes), and a regular file with more than one
 * hard link is left alone: it may be the same inode as a file outside the tree.
 *
 * A directory this process granted before, whose entries have not changed since (same inode,
 * mtime and ctime — any entry created, removed or renamed in it moves both, and ctime cannot be
 * set back), is not listed or its files looked at again: only its subdirectories are. Files made
 * by anyone else appear as such a change. A directory changed within {@link RACY_MS} of a walk is
 * never remembered, so a change in the same clock tick as the look is not missed. Skipping can
 * only ever leave something un-granted, never grant more.
 *
 * @example
 * await grantToSandbox(workspace, { exclude: ['.git'] });
 */
export async function grantToSandbox(
  dir: string,
  options?: { readonly exclude?: readonly string[] },
): Promise<void> {
  const status = await detectSandbox();
  const user = status.user;
  if (!user) return;
  const exclude = new Set(options?.exclude ?? []);
  const root = lstatSync(dir);
  if (!root.isDirectory()) throw new TypeError(`grantToSandbox: not a directory: ${dir}`);
  lchownSync(dir, user.uid, user.gid);
  const settled = BigInt(Date.now() - RACY_MS) * 1_000_000n;
  const seen: [string, GrantedDir][] = [];
  // Synchronous calls on purpose (a thread-pool hop per file costs more than the file on a busy
  // machine), in slices, so a large tree never holds up the rest of the process for long.
  const pending = readdirSync(dir)
    .filter((name) => !exclude.has(name))
    .map((name) => path.join(dir, name));
  for (let done = 0; pending.length > 0; done++) {
    if (done > 0 && done % SLICE === 0) await setImmediate();
    const p = pending.pop()!;
    const stat = lstatSync(p, { bigint: true });
    // A regular file with another hard link may be the same inode as a file outside the tree.
    if (stat.isFile() && stat.nlink > 1n) continue;
    // Already the sandbox user's: between runs only what git rewrote is the orchestrator's.
    const owned = stat.uid === BigInt(user.uid) && stat.gid === BigInt(user.gid);
    if (!owned) lchownSync(p, user.uid, user.gid);
    if (!stat.isDirectory()) continue;
    const stamp = stampOf(stat, user);
    const before = owned ? granted.get(p) : undefined;
    if (before?.stamp === stamp) {
      for (const name of before.subdirs) pending.push(path.join(p, name));
      continue;
    }
    const subdirs: string[] = [];
    for (const entry of readdirSync(p, { withFileTypes: true })) {
      pending.push(path.join(p, entry.name));
      if (entry.isDirectory()) subdirs.push(entry.name);
    }
    // A chown moved the ctime just now; a change this recent may share its tick with a later one.
    if (owned && stat.ctimeNs < settled) seen.push([p, { stamp, subdirs }]);
    else granted.delete(p);
  }
  // Remembered only once the whole walk has succeeded: a failed chown leaves nothing vouched for.
  if (granted.size + seen.length > MAX_REMEMBERED) granted.clear();
  for (const [p, entry] of seen) granted.set(p, entry);
}

/** Entries handled between two turns of the event loop. */
const SLICE = 256;

/** How long (ms) a directory must have been unchanged before a walk remembers it. */
const RACY_MS = 100;

/** Directories remembered in all (a few MB at most); beyond it the memory starts again. */
const MAX_REMEMBERED = 50_000;

interface GrantedDir {
  /** The directory's {@link stampOf} when it was granted. */
  readonly stamp: string;
  /** Its subdirectories' names then (its entries have not changed since). */
  readonly subdirs: readonly string[];
}

/** Directories granted whole by this process, by path. */
const granted = new Map<string, GrantedDir>();

/** A directory's identity and entry-change times, and the user it was granted to. */
function stampOf(stat: BigIntStats, user: { readonly uid: number; readonly gid: number }): string {
  return `${stat.dev}:${stat.ino}:${stat.mtimeNs}:${stat.ctimeNs}:${user.uid}:${user.gid}`;
}
