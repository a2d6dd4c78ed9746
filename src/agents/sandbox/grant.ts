/**
 * Handing a writable tree to the sandbox user, so that file modes — not only mounts — decide what
 * a sandboxed process may write when loopwright runs as root.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
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
  const root = await fs.lstat(dir);
  if (!root.isDirectory()) throw new TypeError(`grantToSandbox: not a directory: ${dir}`);
  await fs.lchown(dir, user.uid, user.gid);
  const entries = await fs.readdir(dir);
  await Promise.all(
    entries
      .filter((name) => !exclude.has(name))
      .map((name) => chownTree(path.join(dir, name), user.uid, user.gid)),
  );
}

/**
 * One entry and, for a directory, everything below it (siblings in parallel). An entry that
 * already has the owner is not changed again: a workspace handed over before keeps most of its
 * files between runs, and only what git rewrote since is the orchestrator's.
 */
async function chownTree(p: string, uid: number, gid: number): Promise<void> {
  const stat = await fs.lstat(p);
  if (stat.isFile() && stat.nlink > 1) return;
  if (stat.uid !== uid || stat.gid !== gid) await fs.lchown(p, uid, gid);
  if (!stat.isDirectory()) return;
  const names = await fs.readdir(p);
  await Promise.all(names.map((name) => chownTree(path.join(p, name), uid, gid)));
}
