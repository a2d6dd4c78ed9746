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
  for (const name of entries) {
    if (!exclude.has(name)) await chownTree(path.join(dir, name), user.uid, user.gid);
  }
}

async function chownTree(p: string, uid: number, gid: number): Promise<void> {
  const stat = await fs.lstat(p);
  if (stat.isFile() && stat.nlink > 1) return;
  await fs.lchown(p, uid, gid);
  if (!stat.isDirectory()) return;
  for (const name of await fs.readdir(p)) await chownTree(path.join(p, name), uid, gid);
}
