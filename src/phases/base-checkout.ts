/**
 * A throwaway detached worktree at a given commit of the base branch, for checks that must run
 * against exactly what was merged (the live check), without touching the user's checkout.
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { git } from '../workspace/index.js';

export async function withBaseCheckout<T>(
  repoPath: string,
  commit: string,
  home: string,
  work: (dir: string) => Promise<T>,
): Promise<T> {
  const parent = path.join(home, 'checks');
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(path.join(parent, 'live-'));
  await git(repoPath, ['worktree', 'add', '--detach', '-q', dir, commit]);
  try {
    return await work(dir);
  } finally {
    await git(repoPath, ['worktree', 'remove', '--force', dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
