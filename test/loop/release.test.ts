/**
 * Tickets share a repository: one going LIVE (its worktree and branch removed) while another's
 * agent runs must not look like that agent writing outside its worktree. Found by the kill -9 test,
 * where a third ticket's lead was escalated LEAD_ENCROACHMENT for `.git/config: outside-write`
 * because `git branch -D` rewrites .git/config.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import {
  commitAll,
  createSampleRepo,
  createWorktree,
  git,
  outsideWriteProbe,
  removeWorktree,
} from '../../src/workspace/index.js';

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

it("releasing one ticket's worktree and branch does not trip another running agent's " +
  'outside-write probe', async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lw-release-'));
  const repo = await createSampleRepo(path.join(root, 'repo'));
  const worktrees = path.join(root, 'worktrees');
  const live = await createWorktree({
    repoPath: repo.path,
    baseBranch: 'main',
    ticketKey: 'app-1',
    root: worktrees,
  });
  const running = await createWorktree({
    repoPath: repo.path,
    baseBranch: 'main',
    ticketKey: 'app-2',
    root: worktrees,
  });
  await writeFile(path.join(live.path, 'shipped.txt'), 'done\n');
  await commitAll(live, 'app-1: shipped');

  const probe = await outsideWriteProbe({
    repoPath: repo.path,
    worktreesRoot: worktrees,
    worktreePath: running.path,
  });
  const released = await removeWorktree({
    repoPath: repo.path,
    path: live.path,
    branch: live.branch,
    deleteBranch: true,
  });
  expect(released).toEqual({ worktreeRemoved: true, branchDeleted: true });
  expect(await git(repo.path, ['branch', '--list', live.branch])).toBe('');
  expect(await probe.check()).toEqual({ ok: true });
}, 30_000);

it('still refuses to delete a ticket branch that is checked out somewhere else', async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lw-release-'));
  const repo = await createSampleRepo(path.join(root, 'repo'));
  const wt = await createWorktree({
    repoPath: repo.path,
    baseBranch: 'main',
    ticketKey: 'app-3',
    root: path.join(root, 'worktrees'),
  });
  const elsewhere = path.join(root, 'elsewhere');
  await git(repo.path, ['worktree', 'add', '-q', '-f', elsewhere, wt.branch]);
  await expect(
    removeWorktree({ repoPath: repo.path, path: wt.path, branch: wt.branch, deleteBranch: true }),
  ).rejects.toThrow(/checked out at/);
  expect(await git(repo.path, ['rev-parse', '--verify', '-q', `refs/heads/${wt.branch}`])).toMatch(
    /^[0-9a-f]{40}$/,
  );
}, 30_000);
