import fs from 'node:fs/promises';
import path from 'node:path';
import type { ServerOsUser } from './os-user.js';

/**
 * Whether `user` can reach `dir` (search permission on it and every ancestor), judged from the
 * owner/group/other mode bits. Only the user's primary group counts: node drops supplementary
 * groups when it spawns a child with `uid`/`gid`. A missing directory counts as unreachable.
 *
 * @example
 * await canTraverse('/root/.loopwright/db', postgresUser); // false: /root is 0700
 */
export async function canTraverse(dir: string, user: ServerOsUser): Promise<boolean> {
  let current: string;
  try {
    current = await fs.realpath(dir);
  } catch {
    return false;
  }
  for (;;) {
    const stat = await fs.stat(current);
    if (!hasSearchBit(stat.mode, stat.uid, stat.gid, user)) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

function hasSearchBit(mode: number, uid: number, gid: number, user: ServerOsUser): boolean {
  if (uid === user.uid) return (mode & 0o100) !== 0;
  if (gid === user.gid) return (mode & 0o010) !== 0;
  return (mode & 0o001) !== 0;
}

/** Hand a file or directory to the server OS user (no-op when running unprivileged). */
export async function giveTo(file: string, user: ServerOsUser | undefined): Promise<void> {
  if (user) await fs.chown(file, user.uid, user.gid);
}
