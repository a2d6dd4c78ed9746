import { lstat, readFile, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../../src/errors.js';
import { WorkspaceError } from '../../src/workspace/errors.js';
import { listWorktrees } from '../../src/workspace/repository.js';
import { commitAll } from '../../src/workspace/stage-commit.js';
import {
  createWorktree,
  removeWorktree,
  workspaceTampering,
} from '../../src/workspace/worktree.js';
import { commit, git, put, read, sampleSetup, sampleWorkspace } from './helpers.js';

describe('createWorktree', () => {
  it('creates <root>/<repo-dir>/<ticket> on loopwright/<ticket> from the base tip', async () => {
    const { repo, root } = await sampleSetup();
    const baseTip = await git(repo.path, ['rev-parse', 'main']);
    const wt = await createWorktree({
      repoPath: repo.path,
      baseBranch: 'main',
      ticketKey: 'LW-1',
      root,
    });

    expect(path.dirname(path.dirname(wt.path))).toBe(root);
    expect(path.basename(path.dirname(wt.path))).toMatch(/^repo-[0-9a-f]{8}$/);
    expect(path.basename(wt.path)).toBe('LW-1');
    expect(wt.branch).toBe('loopwright/LW-1');
    expect(wt.baseCommit).toBe(baseTip);
    expect(await git(wt.path, ['symbolic-ref', 'HEAD'])).toBe('refs/heads/loopwright/LW-1');
    expect(await git(wt.path, ['rev-parse', 'HEAD'])).toBe(baseTip);
    // A clone, not a worktree of the repository: its own .git, the repository's objects borrowed.
    expect((await listWorktrees(repo.path)).map((w) => w.path)).not.toContain(wt.path);
    expect((await lstat(path.join(wt.path, '.git'))).isDirectory()).toBe(true);
    expect(await read(wt.path, '.git/objects/info/alternates')).toBe(
      `${await realpath(path.join(repo.path, '.git', 'objects'))}\n`,
    );
    expect(await git(repo.path, ['rev-parse', 'refs/heads/loopwright/LW-1'])).toBe(baseTip);
    expect(await workspaceTampering(wt)).toEqual([]);
  });

  it('branches from the named base branch, not from whatever is checked out', async () => {
    const { repo, root } = await sampleSetup();
    await git(repo.path, ['checkout', '--quiet', '-b', 'release']);
    await put(repo.path, 'RELEASE.md', 'v2\n');
    const releaseTip = await commit(repo.path, 'release notes');
    await git(repo.path, ['checkout', '--quiet', 'main']);

    const wt = await createWorktree({
      repoPath: repo.path,
      baseBranch: 'release',
      ticketKey: 'LW-2',
      root,
    });
    expect(wt.baseCommit).toBe(releaseTip);
    expect(await read(wt.path, 'RELEASE.md')).toBe('v2\n');
  });

  it('is idempotent: a second call returns the same worktree, work and fork point', async () => {
    const { repo, root } = await sampleSetup();
    const args = { repoPath: repo.path, baseBranch: 'main', ticketKey: 'LW-3', root };
    const first = await createWorktree(args);
    await put(first.path, 'src/new.js', 'export const x = 1;\n');
    await commitAll(first, 'work');
    await put(first.path, 'scratch.txt', 'uncommitted\n');
    await put(repo.path, 'README.md', 'moved on\n');
    await commit(repo.path, 'base moves');

    const second = await createWorktree(args);
    expect(second).toEqual(first);
    expect(await read(second.path, 'scratch.txt')).toBe('uncommitted\n');
    // The repository's own info/exclude is not touched; the clone excludes .loopwright/ itself.
    const exclude = await readFile(path.join(repo.path, '.git/info/exclude'), 'utf8').catch(
      () => '',
    );
    expect(exclude).not.toContain('/.loopwright/');
    expect(await read(second.path, '.git/info/exclude')).toBe('/.loopwright/\n');
  });

  it('recreates a worktree whose folder vanished, on the existing branch', async () => {
    const { repo, root } = await sampleSetup();
    const args = { repoPath: repo.path, baseBranch: 'main', ticketKey: 'LW-4', root };
    const first = await createWorktree(args);
    await put(first.path, 'src/kept.js', 'kept\n');
    const work = await commitAll(first, 'work');
    await rm(first.path, { recursive: true, force: true });

    const again = await createWorktree(args);
    expect(again.path).toBe(first.path);
    expect(await git(again.path, ['rev-parse', 'HEAD'])).toBe(work);
    expect(again.baseCommit).toBe(first.baseCommit);
  });

  it('refuses unsafe keys, unknown bases, occupied folders, worktrees off branch', async () => {
    const { repo, root } = await sampleSetup();
    const base = { repoPath: repo.path, baseBranch: 'main', root };
    await expect(createWorktree({ ...base, ticketKey: '../x' })).rejects.toBeInstanceOf(
      BadInputError,
    );
    await expect(createWorktree({ ...base, ticketKey: 'a..b' })).rejects.toBeInstanceOf(
      BadInputError,
    );
    await expect(
      createWorktree({ ...base, ticketKey: 'LW-5', baseBranch: 'nope' }),
    ).rejects.toBeInstanceOf(BadInputError);

    const wt = await createWorktree({ ...base, ticketKey: 'LW-5' });
    const occupied = path.join(path.dirname(wt.path), 'LW-6');
    await put(occupied, 'stray.txt', 'not a worktree\n');
    await expect(createWorktree({ ...base, ticketKey: 'LW-6' })).rejects.toMatchObject({
      code: 'WORKTREE_PATH_OCCUPIED',
    });

    // An agent that moves the clone off its branch tampered with the orchestrator's .git: the
    // workspace is cloned again, back on loopwright/LW-5 (the repository's branch is the truth).
    await git(wt.path, ['checkout', '--quiet', '-b', 'agent-went-rogue']);
    expect(await workspaceTampering(wt)).toEqual(['.git/HEAD was changed']);
    const again = await createWorktree({ ...base, ticketKey: 'LW-5' });
    expect(again.path).toBe(wt.path);
    expect(await git(wt.path, ['symbolic-ref', 'HEAD'])).toBe('refs/heads/loopwright/LW-5');
    expect(await workspaceTampering(again)).toEqual([]);
    expect(WorkspaceError).toBeDefined();
  });
});

describe('commitAll', () => {
  it('commits all but .loopwright/ as loopwright; null when nothing changed', async () => {
    const { wt } = await sampleWorkspace('LW-7');
    await put(wt.path, '.loopwright/report.json', '{}\n');
    await put(wt.path, '.loopwright/task.md', '# task\n');
    await put(wt.path, 'src/feature.js', 'export const feature = true;\n');
    await rm(path.join(wt.path, 'README.md'));

    const sha = await commitAll(wt, 'LW-7: feature');
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    const files = (await git(wt.path, ['ls-tree', '-r', '--name-only', 'HEAD'])).split('\n');
    expect(files).toContain('src/feature.js');
    expect(files).not.toContain('README.md');
    expect(files.some((f) => f.startsWith('.loopwright'))).toBe(false);
    expect(await git(wt.path, ['log', '-1', '--format=%an <%ae>|%cn <%ce>|%s'])).toBe(
      'loopwright <loopwright@localhost>|loopwright <loopwright@localhost>|LW-7: feature',
    );
    expect(await commitAll(wt, 'nothing')).toBeNull();
    expect(await stat(path.join(wt.path, '.loopwright/report.json'))).toBeTruthy();
  });
});

describe('removeWorktree', () => {
  it('removes the worktree and its branch, and tolerates doing it again', async () => {
    const { repo, wt } = await sampleWorkspace('LW-8');
    await put(wt.path, 'dirty.txt', 'uncommitted\n');

    const first = await removeWorktree({
      repoPath: repo.path,
      path: wt.path,
      branch: wt.branch,
      deleteBranch: true,
    });
    expect(first).toEqual({ worktreeRemoved: true, branchDeleted: true });
    await expect(stat(wt.path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await git(repo.path, ['branch', '--list', wt.branch])).toBe('');

    const again = await removeWorktree({
      repoPath: repo.path,
      path: wt.path,
      branch: wt.branch,
      deleteBranch: true,
    });
    expect(again).toEqual({ worktreeRemoved: false, branchDeleted: false });
  });

  it('keeps the branch unless asked; never deletes a branch outside loopwright/', async () => {
    const { repo, wt } = await sampleWorkspace('LW-9');
    expect(await removeWorktree({ repoPath: repo.path, path: wt.path })).toEqual({
      worktreeRemoved: true,
      branchDeleted: false,
    });
    expect(await git(repo.path, ['branch', '--list', wt.branch])).toContain(wt.branch);
    await expect(
      removeWorktree({ repoPath: repo.path, path: wt.path, branch: 'main', deleteBranch: true }),
    ).rejects.toBeInstanceOf(BadInputError);
  });
});
