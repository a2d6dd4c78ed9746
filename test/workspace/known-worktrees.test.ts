import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { knownWorktrees, listWorktrees } from '../../src/workspace/repository.js';
import { commit, git, put, sampleSetup } from './helpers.js';

describe('knownWorktrees', () => {
  it('reuses its listing until a checkout, a new or removed worktree changes it', async () => {
    const { repo, tmp } = await sampleSetup();
    const first = await knownWorktrees(repo.path);
    expect(first).toEqual(await listWorktrees(repo.path));
    // The base moving (a commit, a merge) does not change who has which branch checked out.
    await put(repo.path, 'more.txt', 'more\n');
    await commit(repo.path, 'more');
    expect(await knownWorktrees(repo.path)).toBe(first);

    const other = path.join(tmp, 'other');
    await git(repo.path, ['worktree', 'add', '-q', '-b', 'side', other]);
    const added = await knownWorktrees(repo.path);
    expect(added.map((w) => w.branch)).toEqual(['refs/heads/main', 'refs/heads/side']);

    await git(repo.path, ['checkout', '-q', '-b', 'elsewhere']);
    expect((await knownWorktrees(repo.path))[0]!.branch).toBe('refs/heads/elsewhere');
    await git(other, ['checkout', '-q', 'main']);
    expect((await knownWorktrees(repo.path))[1]!.branch).toBe('refs/heads/main');

    await rm(other, { recursive: true, force: true });
    expect((await knownWorktrees(repo.path))[1]).toMatchObject({ prunable: true });
    await git(repo.path, ['worktree', 'prune']);
    expect(await knownWorktrees(repo.path)).toEqual(await listWorktrees(repo.path));
    expect((await knownWorktrees(repo.path)).length).toBe(1);
  });
});
