/**
 * Shared helpers for workspace tests: throw-away directories (removed after each test), a sample
 * repository with a worktrees root beside it, and small file/git shorthands.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { git } from '../../src/workspace/git.js';
import { createWorktree } from '../../src/workspace/worktree.js';
import { createSampleRepo, type SampleRepo } from '../../src/workspace/sample-repo.js';

const created: string[] = [];

afterEach(async () => {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh directory under the OS temp dir, removed after the current test. */
export async function tempDir(prefix = 'lw-ws-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** A sample repo at `<tmp>/repo` and an empty worktrees root at `<tmp>/worktrees`. */
export async function sampleSetup(): Promise<{ repo: SampleRepo; root: string; tmp: string }> {
  const tmp = await tempDir();
  const repo = await createSampleRepo(path.join(tmp, 'repo'));
  const root = path.join(tmp, 'worktrees');
  await mkdir(root);
  return { repo, root, tmp };
}

/** {@link sampleSetup} plus ticket `ticketKey`'s workspace, branched from `main`. */
export async function sampleWorkspace(ticketKey = 'LW-1') {
  const setup = await sampleSetup();
  const wt = await createWorktree({
    repoPath: setup.repo.path,
    baseBranch: 'main',
    ticketKey,
    root: setup.root,
  });
  return { ...setup, wt };
}

/** Write `content` to `dir/file`, creating parent folders. */
export async function put(dir: string, file: string, content: string): Promise<void> {
  await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
  await writeFile(path.join(dir, file), content);
}

export async function read(dir: string, file: string): Promise<string> {
  return readFile(path.join(dir, file), 'utf8');
}

/** Stage everything and commit in `dir` (as the tests' stand-in for a user or agent). */
export async function commit(dir: string, message: string): Promise<string> {
  await git(dir, ['add', '--all']);
  await git(dir, ['commit', '--quiet', '-m', message]);
  return git(dir, ['rev-parse', 'HEAD']);
}

export { git };
