import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listWorktrees } from '../../src/workspace/repository.js';
import {
  advanceRef,
  isMergedInto,
  type MergeCheck,
  mergeToBase,
} from '../../src/workspace/merge.js';
import { commitAll } from '../../src/workspace/stage-commit.js';
import type { Worktree } from '../../src/workspace/worktree.js';
import { commit, git, put, read, sampleWorkspace } from './helpers.js';

/** A sample repo (main checked out, clean) and a ticket worktree with one commit on its branch. */
async function withTicketCommit(
  file = 'src/farewell.js',
  content = 'export const bye = () => "bye";\n',
) {
  const { repo, wt } = await sampleWorkspace('LW-1');
  await put(wt.path, file, content);
  const tip = (await commitAll(wt, 'LW-1: farewell'))!;
  return { repoPath: repo.path, wt, tip };
}

const mergeArgs = (repoPath: string, wt: Worktree) => ({
  repoPath,
  baseBranch: 'main',
  tip: wt.branch,
  message: 'Merge LW-1',
});

const parentsOf = async (repo: string, rev: string) =>
  (await git(repo, ['log', '-1', '--format=%P', rev])).split(' ');

describe('mergeToBase', () => {
  it('always records a merge commit (base first) and brings a clean checkout along', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    const old = await git(repoPath, ['rev-parse', 'main']);
    const result = await mergeToBase(mergeArgs(repoPath, wt));
    expect(result).toMatchObject({
      ok: true,
      alreadyMerged: false,
      checkoutPath: repoPath,
      checkoutUpdated: true,
      attempts: 1,
    });
    const merged = result.ok ? result.commit : '';
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(merged);
    expect(await parentsOf(repoPath, merged)).toEqual([old, tip]);
    expect(await git(repoPath, ['log', '-1', '--format=%s|%an', merged])).toBe(
      'Merge LW-1|loopwright',
    );
    // The base's reflog says who moved it.
    expect(await git(repoPath, ['reflog', '-1', '--format=%H %gs', 'main'])).toBe(
      `${merged} loopwright`,
    );
    expect(await read(repoPath, 'src/farewell.js')).toContain('bye');
    expect(await git(repoPath, ['status', '--porcelain'])).toBe('');
    // A user's `git commit -a` afterwards has nothing to commit: it cannot revert the merge.
    const commitAllRun = await git(repoPath, ['commit', '-a', '-m', 'user'], {
      okExitCodes: [0, 1],
    });
    expect(commitAllRun).toContain('nothing to commit');
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(merged);
  });

  it('merges onto a base that moved, keeping both sides', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    await put(repoPath, 'README.md', '# moved on\n');
    const moved = await commit(repoPath, 'meanwhile on main');
    const result = await mergeToBase(mergeArgs(repoPath, wt));
    const merged = result.ok ? result.commit : '';
    expect(await parentsOf(repoPath, merged)).toEqual([moved, tip]);
    expect(await read(repoPath, 'src/farewell.js')).toContain('bye');
    expect(await read(repoPath, 'README.md')).toBe('# moved on\n');
    expect(await git(repoPath, ['status', '--porcelain'])).toBe('');
    expect(await isMergedInto(repoPath, tip, 'main')).toBe(true);
  });

  it('reports a conflict by file; base, checkout and worktree list stay untouched', async () => {
    const { repoPath, wt } = await withTicketCommit(
      'src/greet.js',
      'export const greet = (n) => `Hey ${n}`;\n',
    );
    await put(repoPath, 'src/greet.js', 'export const greet = (n) => `Yo ${n}`;\n');
    const baseTip = await commit(repoPath, 'conflicting change on main');
    const worktreesBefore = await listWorktrees(repoPath);
    let checked = 0;
    const result = await mergeToBase({
      ...mergeArgs(repoPath, wt),
      check: async () => {
        checked++;
        return { passed: true };
      },
    });
    expect(result).toEqual({ ok: false, reason: 'MERGE_CONFLICT', detail: ['src/greet.js'] });
    expect(checked).toBe(0);
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(baseTip);
    expect(await listWorktrees(repoPath)).toEqual(worktreesBefore);
    expect(await git(repoPath, ['status', '--porcelain'])).toBe('');
  });

  it('checks the exact merge commit before moving the base; a failed check stops it', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    const old = await git(repoPath, ['rev-parse', 'main']);
    const seen: { commit: string; parents: string[]; baseThen: string }[] = [];
    const check = async (candidate: string): Promise<MergeCheck> => {
      seen.push({
        commit: candidate,
        parents: await parentsOf(repoPath, candidate),
        baseThen: await git(repoPath, ['rev-parse', 'main']),
      });
      return { passed: false, detail: 'tests failed on the merge' };
    };
    const result = await mergeToBase({ ...mergeArgs(repoPath, wt), check });
    expect(seen).toEqual([{ commit: expect.any(String), parents: [old, tip], baseThen: old }]);
    expect(result).toEqual({
      ok: false,
      reason: 'MERGE_CHECK_FAILED',
      commit: seen[0]!.commit,
      detail: 'tests failed on the merge',
    });
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(old);
    expect(await isMergedInto(repoPath, tip, 'main')).toBe(false);
    await expect(read(repoPath, 'src/farewell.js')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await git(repoPath, ['status', '--porcelain'])).toBe('');
  });

  it('waits (CHECKOUT_DIRTY) rather than move the ref under a dirty checkout', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    const old = await git(repoPath, ['rev-parse', 'main']);
    await put(repoPath, 'README.md', 'my uncommitted edit\n');
    await put(repoPath, 'src/greet.js', 'staged edit\n');
    await git(repoPath, ['add', 'src/greet.js']);
    const result = await mergeToBase(mergeArgs(repoPath, wt));
    expect(result).toEqual({
      ok: false,
      reason: 'CHECKOUT_DIRTY',
      path: repoPath,
      detail: ['README.md', 'src/greet.js'],
    });
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(old);
    expect(await read(repoPath, 'README.md')).toBe('my uncommitted edit\n');
    // Once the user stashes, the same call merges and the checkout follows.
    await git(repoPath, ['stash', '-q']);
    const after = await mergeToBase(mergeArgs(repoPath, wt));
    expect(after).toMatchObject({ ok: true, checkoutUpdated: true });
    expect(await read(repoPath, 'src/farewell.js')).toContain('bye');
    await git(repoPath, ['stash', 'pop', '-q']);
    expect(await read(repoPath, 'README.md')).toBe('my uncommitted edit\n');
    await git(repoPath, ['commit', '-qam', 'the user commits everything']);
    expect(await read(repoPath, 'src/farewell.js')).toContain('bye');
    expect(await isMergedInto(repoPath, tip, 'main')).toBe(true);
    expect(await git(repoPath, ['show', 'HEAD:src/farewell.js'])).toContain('bye');
  });

  it('treats an untracked file the merge would overwrite as dirty, keeps the others', async () => {
    const { repoPath, wt } = await withTicketCommit();
    const old = await git(repoPath, ['rev-parse', 'main']);
    await put(repoPath, 'src/farewell.js', 'the user has their own file here\n');
    const blocked = await mergeToBase(mergeArgs(repoPath, wt));
    expect(blocked).toMatchObject({
      ok: false,
      reason: 'CHECKOUT_DIRTY',
      detail: ['src/farewell.js'],
    });
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(old);
    expect(await read(repoPath, 'src/farewell.js')).toBe('the user has their own file here\n');

    await rename(path.join(repoPath, 'src/farewell.js'), path.join(repoPath, 'notes.txt'));
    await put(repoPath, 'notes.txt', 'moved aside, still untracked\n');
    const merged = await mergeToBase(mergeArgs(repoPath, wt));
    expect(merged).toMatchObject({ ok: true, checkoutUpdated: true });
    expect(await read(repoPath, 'notes.txt')).toBe('moved aside, still untracked\n');
  });

  it('treats an untracked file where a merged folder must go as dirty', async () => {
    const { repoPath, wt } = await withTicketCommit('lib/deep/new.js', 'export {};\n');
    const old = await git(repoPath, ['rev-parse', 'main']);
    await put(repoPath, 'lib', 'a file where the folder goes\n');
    const blocked = await mergeToBase(mergeArgs(repoPath, wt));
    expect(blocked).toMatchObject({ ok: false, reason: 'CHECKOUT_DIRTY' });
    expect(await git(repoPath, ['rev-parse', 'main'])).toBe(old);
    expect(await read(repoPath, 'lib')).toBe('a file where the folder goes\n');
  });

  it('updates a clean base checked out in a linked worktree, not the main checkout', async () => {
    const { repoPath, wt } = await withTicketCommit();
    await git(repoPath, ['checkout', '--quiet', '--detach']);
    const root = `${repoPath}-base`;
    await git(repoPath, ['worktree', 'add', '--quiet', root, 'main']);
    const result = await mergeToBase(mergeArgs(repoPath, wt));
    expect(result).toMatchObject({ ok: true, checkoutPath: root, checkoutUpdated: true });
    expect(await read(root, 'src/farewell.js')).toContain('bye');
    expect(await git(root, ['status', '--porcelain'])).toBe('');
    await git(repoPath, ['worktree', 'remove', '--force', root]);
  });

  it('is idempotent: a retry finds the merge commit it made, even after more merges', async () => {
    const { repoPath, wt } = await withTicketCommit();
    const first = await mergeToBase(mergeArgs(repoPath, wt));
    await put(repoPath, 'README.md', '# later work on main\n');
    await commit(repoPath, 'later on main');
    const second = await mergeToBase(mergeArgs(repoPath, wt));
    expect(first.ok && second.ok).toBe(true);
    expect(second).toMatchObject({
      ok: true,
      alreadyMerged: true,
      commit: first.ok ? first.commit : 'x',
    });
    expect(await git(repoPath, ['rev-list', '--count', '--merges', 'main'])).toBe('1');
  });

  it('a retry after a crash between CAS and checkout update brings the checkout', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    const old = await git(repoPath, ['rev-parse', 'main']);
    // What the first attempt did before dying: the merge commit and the CAS, not the read-tree.
    const tree = await git(repoPath, ['merge-tree', '--write-tree', old, tip]);
    const merge = await git(repoPath, [
      'commit-tree',
      '-p',
      old,
      '-p',
      tip,
      '-m',
      'Merge LW-1',
      tree,
    ]);
    await git(repoPath, ['update-ref', 'refs/heads/main', merge, old]);
    expect(await git(repoPath, ['status', '--porcelain'])).not.toBe('');

    const retried = await mergeToBase(mergeArgs(repoPath, wt));
    expect(retried).toMatchObject({
      ok: true,
      alreadyMerged: true,
      commit: merge,
      checkoutUpdated: true,
    });
    expect(await git(repoPath, ['status', '--porcelain'])).toBe('');
    expect(await read(repoPath, 'src/farewell.js')).toContain('bye');
  });

  it('refuses an unknown tip as bad input', async () => {
    const { repoPath } = await withTicketCommit();
    await expect(
      mergeToBase({ repoPath, baseBranch: 'main', tip: 'refs/heads/nope', message: 'x' }),
    ).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});

describe('mergeToBase under a concurrently moving base', () => {
  it('rebuilds and re-checks on the new tip each time the base moves, never gives up', async () => {
    const { repoPath, wt, tip } = await withTicketCommit();
    let moves = 0;
    const checked: string[] = [];
    const check = async (candidate: string): Promise<MergeCheck> => {
      checked.push(candidate);
      if (moves < 5) {
        // Someone else lands a commit on main while the tests run.
        moves++;
        await put(repoPath, `other-${moves}.txt`, `${moves}\n`);
        await commit(repoPath, `concurrent ${moves}`);
      }
      return { passed: true };
    };
    const result = await mergeToBase({ ...mergeArgs(repoPath, wt), check });
    expect(result).toMatchObject({ ok: true, attempts: 6 });
    expect(new Set(checked).size).toBe(6);
    const merged = result.ok ? result.commit : '';
    expect(checked.at(-1)).toBe(merged);
    const [first, second] = await parentsOf(repoPath, merged);
    expect(await git(repoPath, ['log', '-1', '--format=%s', first!])).toBe('concurrent 5');
    expect(second).toBe(tip);
    expect(await readFile(path.join(repoPath, 'other-5.txt'), 'utf8')).toBe('5\n');
    expect(await git(repoPath, ['status', '--porcelain'])).toBe('');
  });

  it('a failing check on a base that moved meanwhile is retried on the new base', async () => {
    const { repoPath, wt } = await withTicketCommit();
    let calls = 0;
    const check = async (): Promise<MergeCheck> => {
      calls++;
      if (calls === 1) {
        await put(repoPath, 'fix.txt', 'the base fixed the flaky thing\n');
        await commit(repoPath, 'fix on main');
        return { passed: false, detail: 'failed on the old base' };
      }
      return { passed: true };
    };
    const result = await mergeToBase({ ...mergeArgs(repoPath, wt), check });
    expect(result).toMatchObject({ ok: true, attempts: 2 });
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
