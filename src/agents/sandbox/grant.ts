/**
 * Handing a writable tree to the sandbox user, so that file modes — not only mounts — decide what
 * a sandboxed process may write when loopwright runs as root.
 */
import { lchownSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { detectSandbox } from './detect.js';

/**
 * Give the sandbox user ownership of a writable tree (chown -R when loopwright runs as root and a
 * sandbox user exists; a no-op otherwise). `exclude` names top-level entries left alone (".git").
 * Symlinks are never followed (their own owner changes), and a regular file with more than one
 * hard link is left alone: it may be the same inode as a file outside the tree.
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
  // Synchronous calls on purpose (a thread-pool hop per file costs more than the file on a busy
  // machine), in slices, so a large tree never holds up the rest of the process for long.
  const pending = readdirSync(dir)
    .filter((name) => !exclude.has(name))
    .map((name) => path.join(dir, name));
  for (let done = 0; pending.length > 0; done++) {
    if (done > 0 && done % SLICE === 0) await setImmediate();
    const p = pending.pop()!;
    const stat = lstatSync(p);
    // A regular file with another hard link may be the same inode as a file outside the tree.
    if (stat.isFile() && stat.nlink > 1) continue;
    // Already the sandbox user's: between runs only what git rewrote is the orchestrator's.
    if (stat.uid !== user.uid || stat.gid !== user.gid) lchownSync(p, user.uid, user.gid);
    if (stat.isDirectory()) for (const name of readdirSync(p)) pending.push(path.join(p, name));
  }
}

/** Entries handled between two turns of the event loop. */
const SLICE = 256;
