import { describe, expect, it } from 'vitest';
import { listWorktrees } from '../../src/workspace/repository.js';
import { advanceRef, isMergedInto, mergeToBase } from '../../src/workspace/merge.js';
import { commitAll, createWorktree, type Worktree } from '../../src/workspace/worktree.js';
import { commit, git, put, read, sampleSetup } from './helpers.js';

/** A sample repo (main checked out, clean) and a ticket worktree with one commit on its branch. */
async function withTicketCommit(
  file = 'src/farewell.js',
  content = 'export const bye = () => "bye";\n',
) {
  const { repo, root } = await sampleSetup();
  const wt = await createWorktree({
    repoPath: repo.path,
    baseBranch: 'main',
    ticketKey: 'LW-1',
    root,
  });
  await put(wt.path, file, content);
  const tip = (await commitAll(wt.path, 'LW-1: farewell'))!;
  return { repoPath: repo.path, wt, tip };
}

const mergeArgs = (repoPath: string, wt: Worktree) => ({
  repoPath,
  baseBranch: 'main',
  branch: wt.branch,
  message: 'Merge LW-1',
});

describe('mergeToBase', () => {
  it('fast-forwards when the base has not moved and updates the clean checkout of main', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    const result = await mergeToBase(mergeArgs(repoPath, wt));
    expect(result).toEqual({
      ok: true,
      commit: tip,
      fastForward: true,
      alreadyMerged: false,
      checkoutPath: repoPath,
      checkoutUpdated: true,
    });
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(tip);
    expect(await read(repoPath, 'src/farewell.js')).toContain('bye');
    expect(await git(repoPath, ['status', '--porcelain'])).toBe('');
  });

  it('makes a --no-ff merge commit when the base moved, keeping both sides', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    await put(repoPath, 'README.md', '# moved on\n');
    const moved = await commit(repoPath, 'meanwhile on main');

    const result = await mergeToBase(mergeArgs(repoPath, wt));
    expect(result).toMatchObject({
      ok: true,
      fastForward: false,
      alreadyMerged: false,
      checkoutUpdated: true,
    });
    const merged = result.ok ? result.commit : '';
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(merged);
    expect(await git(repoPath, ['log', '-1', '--format=%P|%s|%an', merged])).toBe(
      `${moved} ${tip}|Merge LW-1|loopwright`,
    );
    expect(await read(repoPath, 'src/farewell.js')).toContain('bye');
    expect(await read(repoPath, 'README.md')).toBe('# moved on\n');
    expect(await git(repoPath, ['status', '--porcelain'])).toBe('');
    expect(await isMergedInto(repoPath, tip, 'main')).toBe(true);
  });

  it('reports a conflict with the paths and leaves the base and worktree list untouched', async () => {
    const { repoPath, wt } = await withTicketCommit(
      'src/greet.js',
      'export const greet = (n) => `Hey ${n}`;\n',
    );
    await put(repoPath, 'src/greet.js', 'export const greet = (n) => `Yo ${n}`;\n');
    const baseTip = await commit(repoPath, 'conflicting change on main');
    const worktreesBefore = await listWorktrees(repoPath);

    const result = await mergeToBase(mergeArgs(repoPath, wt));
    expect(result).toEqual({ ok: false, reason: 'MERGE_CONFLICT', detail: ['src/greet.js'] });
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(baseTip);
    expect(await listWorktrees(repoPath)).toEqual(worktreesBefore);
    expect(await git(repoPath, ['status', '--porcelain'])).toBe('');
  });

  it('leaves a dirty checkout of the base alone but still moves the branch', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    await put(repoPath, 'README.md', 'my uncommitted edit\n');
    const result = await mergeToBase(mergeArgs(repoPath, wt));
    expect(result).toMatchObject({
      ok: true,
      commit: tip,
      checkoutPath: repoPath,
      checkoutUpdated: false,
    });
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(tip);
    expect(await read(repoPath, 'README.md')).toBe('my uncommitted edit\n');
    await expect(read(repoPath, 'src/farewell.js')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('updates a clean base checked out in a linked worktree rather than the main checkout', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    await git(repoPath, ['checkout', '--quiet', '--detach']);
    const root = `${repoPath}-base`;
    await git(repoPath, ['worktree', 'add', '--quiet', root, 'main']);
    const result = await mergeToBase(mergeArgs(repoPath, wt));
    expect(result).toMatchObject({
      ok: true,
      commit: tip,
      checkoutPath: root,
      checkoutUpdated: true,
    });
    expect(await read(root, 'src/farewell.js')).toContain('bye');
    await git(repoPath, ['worktree', 'remove', '--force', root]);
  });

  it('is idempotent: merging an already merged branch changes nothing', async () => {
    const { repoPath, wt } = await withTicketCommit();
    await put(repoPath, 'README.md', '# moved on\n');
    await commit(repoPath, 'meanwhile on main');
    const first = await mergeToBase(mergeArgs(repoPath, wt));
    const second = await mergeToBase(mergeArgs(repoPath, wt));
    expect(second).toMatchObject({
      ok: true,
      alreadyMerged: true,
      commit: first.ok ? first.commit : 'x',
    });
    expect(await git(repoPath, ['rev-list', '--count', 'main'])).toBe('4');
  });
});

/**
 * A real concurrent writer: a smudge filter on README.md that commits to main from another git
 * process whenever README.md is checked out, i.e. while mergeToBase builds its merge commit.
 */
async function raceOnCheckout(repoPath: string, times: 'once' | 'always'): Promise<void> {
  const script = `${repoPath}.race.sh`;
  const marker = `${repoPath}.race.done`;
  await put(
    '/',
    script,
    [
      '#!/bin/sh',
      `G='${repoPath}/.git'`,
      `if [ '${times}' = always ] || [ ! -e '${marker}' ]; then`,
      `  touch '${marker}'`,
      '  n=$(git --git-dir="$G" commit-tree -p refs/heads/main -m concurrent "refs/heads/main^{tree}")',
      '  git --git-dir="$G" update-ref refs/heads/main "$n"',
      'fi',
      'exec cat',
      '',
    ].join('\n'),
  );
  await git(repoPath, ['config', 'filter.race.smudge', `sh '${script}'`]);
  await git(repoPath, ['config', 'filter.race.clean', 'cat']);
  await put(repoPath, '.git/info/attributes', 'README.md filter=race\n');
}

describe('mergeToBase under a concurrently moving base', () => {
  it('notices the CAS failure and rebuilds the merge on the new tip', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    await put(repoPath, 'README.md', '# moved on\n');
    await commit(repoPath, 'base moved, so a merge commit is needed');
    await raceOnCheckout(repoPath, 'once');

    const result = await mergeToBase(mergeArgs(repoPath, wt));
    expect(result).toMatchObject({ ok: true, fastForward: false });
    const parents = await git(repoPath, ['log', '-1', '--format=%P', 'main']);
    expect(await git(repoPath, ['log', '-1', '--format=%s', parents.split(' ')[0]!])).toBe(
      'concurrent',
    );
    expect(parents.split(' ')[1]).toBe(tip);
  });

  it('gives up with BASE_MOVED, never clobbering, when the base keeps moving', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    await put(repoPath, 'README.md', '# moved on\n');
    await commit(repoPath, 'base moved, so a merge commit is needed');
    await raceOnCheckout(repoPath, 'always');

    const result = await mergeToBase({ ...mergeArgs(repoPath, wt), maxAttempts: 2 });
    expect(result).toMatchObject({ ok: false, reason: 'BASE_MOVED' });
    expect(result.ok === false && result.detail).toHaveLength(2);
    expect(await git(repoPath, ['log', '-1', '--format=%s', 'main'])).toBe('concurrent');
    expect(await isMergedInto(repoPath, tip, 'main')).toBe(false);
  });
});

describe('advanceRef', () => {
  it('refuses to move a ref that moved since it was read (compare-and-swap)', async () => {
    const { repoPath, tip } = await withTicketCommit();
    const old = await git(repoPath, ['rev-parse', 'main']);
    await put(repoPath, 'README.md', 'concurrent\n');
    const concurrent = await commit(repoPath, 'someone else moved main');

    const result = await advanceRef({
      repoPath,
      ref: 'refs/heads/main',
      newCommit: tip,
      expectedOld: old,
    });
    expect(result).toEqual({ ok: false, actual: concurrent });
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(concurrent);
    expect(
      await advanceRef({
        repoPath,
        ref: 'refs/heads/main',
        newCommit: tip,
        expectedOld: concurrent,
      }),
    ).toEqual({ ok: true });
  });
});

describe('isMergedInto', () => {
  it('is false for an unmerged or unknown commit and rejects an unknown base', async () => {
    const { repoPath, tip } = await withTicketCommit();
    expect(await isMergedInto(repoPath, tip, 'main')).toBe(false);
    expect(await isMergedInto(repoPath, 'f'.repeat(40), 'main')).toBe(false);
    await expect(isMergedInto(repoPath, tip, 'nope')).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
