import { link, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { changedPaths } from '../../src/workspace/changes.js';
import { leadEncroachmentGate } from '../../src/workspace/lead-encroachment-gate.js';
import { scopeGate } from '../../src/workspace/scope-gate.js';
import { testFilesGate } from '../../src/workspace/test-files-gate.js';
import { commitAll } from '../../src/workspace/stage-commit.js';
import { createWorktree, type Worktree } from '../../src/workspace/worktree.js';
import { commit, git, put, sampleSetup, tempDir } from './helpers.js';

async function ticketWorktree(
  ticketKey = 'LW-1',
): Promise<{ wt: Worktree; repoPath: string; root: string }> {
  const { repo, root } = await sampleSetup();
  const wt = await createWorktree({ repoPath: repo.path, baseBranch: 'main', ticketKey, root });
  return { wt, repoPath: repo.path, root };
}

const whys = (result: { ok: boolean; violations?: readonly { path: string; why: string }[] }) =>
  result.ok ? [] : (result.violations ?? []).map((v) => `${v.why}:${v.path}`);

describe('changedPaths', () => {
  it('sees committed, staged, unstaged, untracked, deleted; no ignored, .loopwright/', async () => {
    const { wt } = await ticketWorktree();
    await put(wt.path, '.gitignore', 'build/\n');
    await put(wt.path, 'src/committed.js', '1\n');
    await commitAll(wt, 'one');
    await put(wt.path, 'src/staged.js', '2\n');
    await git(wt.path, ['add', 'src/staged.js']);
    await put(wt.path, 'src/greet.js', 'changed\n');
    await put(wt.path, 'notes/untracked.md', 'new\n');
    await rm(path.join(wt.path, 'README.md'));
    await put(wt.path, 'build/out.js', 'ignored\n');
    await put(wt.path, '.loopwright/report.json', '{}\n');

    expect(await changedPaths(wt.path, wt.baseCommit)).toEqual([
      { path: '.gitignore', status: 'added', symlink: false },
      { path: 'README.md', status: 'deleted', symlink: false },
      { path: 'notes/untracked.md', status: 'added', symlink: false },
      { path: 'src/committed.js', status: 'added', symlink: false },
      { path: 'src/greet.js', status: 'modified', symlink: false },
      { path: 'src/staged.js', status: 'added', symlink: false },
    ]);
  });

  it('still reports a file hidden through info/exclude, which lives outside the tree', async () => {
    const { wt } = await ticketWorktree();
    // The workspace is a clone: its own info/exclude is the one git reads there.
    await put(wt.path, '.git/info/exclude', '/.loopwright/\nsneaky.js\n');
    await put(wt.path, 'sneaky.js', 'x\n');
    expect(await git(wt.path, ['status', '--porcelain'])).toBe('');
    expect(await changedPaths(wt.path, wt.baseCommit)).toEqual([
      { path: 'sneaky.js', status: 'added', symlink: false },
    ]);
  });

  it('does not report a file touched but left identical', async () => {
    const { wt } = await ticketWorktree();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeFile(
      path.join(wt.path, 'README.md'),
      (await git(wt.path, ['show', 'HEAD:README.md'])) + '\n',
    );
    expect(await changedPaths(wt.path, wt.baseCommit)).toEqual([]);
  });
});

describe('leadEncroachmentGate', () => {
  it('passes a Lead that only wrote .loopwright/plan.md', async () => {
    const { wt } = await ticketWorktree();
    await put(wt.path, '.loopwright/plan.md', '# plan\n');
    expect(await leadEncroachmentGate(wt.path, wt.baseCommit)).toEqual({ ok: true });
  });

  it('fails a Lead that touched code, committed or not', async () => {
    const { wt } = await ticketWorktree();
    await put(wt.path, '.loopwright/plan.md', '# plan\n');
    await put(wt.path, 'src/greet.js', 'export const greet = () => "hijacked";\n');
    await put(wt.path, 'src/extra.js', 'x\n');
    await commitAll(wt, 'lead sneaks a commit');
    await put(wt.path, 'package.json', '{}\n');
    const result = await leadEncroachmentGate(wt.path, wt.baseCommit);
    expect(result.ok).toBe(false);
    expect(result.ok === false && result.reason).toBe('LEAD_ENCROACHMENT');
    expect(whys(result)).toEqual([
      'outside-loopwright-dir:package.json',
      'outside-loopwright-dir:src/extra.js',
      'outside-loopwright-dir:src/greet.js',
    ]);
  });

  it('flags .loopwright itself replaced by a symlink into the code', async () => {
    const { wt } = await ticketWorktree();
    await symlink('src', path.join(wt.path, '.loopwright'));
    expect(whys(await leadEncroachmentGate(wt.path, wt.baseCommit))).toEqual([
      'outside-loopwright-dir:.loopwright',
    ]);
  });
});

describe('scopeGate', () => {
  it('passes in-glob changes, nested ** included', async () => {
    const { wt } = await ticketWorktree();
    await put(wt.path, 'src/greet.js', 'export const greet = (n) => `Hi ${n}`;\n');
    await put(wt.path, 'src/deep/er/util.js', 'x\n');
    await put(wt.path, 'test/deep/util.test.js', 'x\n');
    await commitAll(wt, 'in scope');
    await put(wt.path, 'src/deep/er/more.js', 'y\n');
    expect(await scopeGate(wt.path, wt.baseCommit, ['src/**', 'test/**/*.test.js'])).toEqual({
      ok: true,
    });
  });

  it('fails an out-of-glob file and a deleted file outside the scope', async () => {
    const { wt } = await ticketWorktree();
    await put(wt.path, 'src/greet.js', 'changed\n');
    await put(wt.path, 'package.json', '{"scripts":{"test":"true"}}\n');
    await rm(path.join(wt.path, 'scripts/live-check.mjs'));
    const result = await scopeGate(wt.path, wt.baseCommit, ['src/**']);
    expect(result).toMatchObject({ ok: false, reason: 'SCOPE_VIOLATION' });
    expect(result.ok === false && result.violations).toEqual([
      { path: 'package.json', why: 'out-of-scope', detail: 'modified' },
      { path: 'scripts/live-check.mjs', why: 'out-of-scope', detail: 'deleted' },
    ]);
  });

  it('refuses plans whose globs are absolute or climb out with ..', async () => {
    const { wt } = await ticketWorktree();
    await put(wt.path, 'src/greet.js', 'changed\n');
    expect(whys(await scopeGate(wt.path, wt.baseCommit, ['src/**', '../**', '/etc/**']))).toEqual([
      'glob-refused:../**',
      'glob-refused:/etc/**',
    ]);
  });

  it('fails a symlink whose target is outside the worktree', async () => {
    const { wt } = await ticketWorktree();
    const outside = await tempDir();
    await put(outside, 'secret.txt', 'secret\n');
    await symlink(path.join(outside, 'secret.txt'), path.join(wt.path, 'src/secret.js'));
    await symlink('../../../..', path.join(wt.path, 'src/up'));
    const result = await scopeGate(wt.path, wt.baseCommit, ['src/**']);
    expect(whys(result)).toEqual([
      'symlink-target-outside:src/secret.js',
      'symlink-target-outside:src/up',
    ]);
  });

  it('passes a symlink to an in-scope file, not to an out-of-scope one or nothing', async () => {
    const { wt } = await ticketWorktree();
    await symlink('greet.js', path.join(wt.path, 'src/alias.js'));
    expect(await scopeGate(wt.path, wt.baseCommit, ['src/**'])).toEqual({ ok: true });

    await symlink('../package.json', path.join(wt.path, 'src/pkg.json'));
    await symlink('missing.js', path.join(wt.path, 'src/dangling.js'));
    expect(whys(await scopeGate(wt.path, wt.baseCommit, ['src/**']))).toEqual([
      'symlink-dangling:src/dangling.js',
      'symlink-target-out-of-scope:src/pkg.json',
    ]);
  });

  it('fails a hard link, whose writes would land in a file outside the worktree', async () => {
    const { wt } = await ticketWorktree();
    const outside = await tempDir();
    await put(outside, 'victim.txt', 'v\n');
    await link(path.join(outside, 'victim.txt'), path.join(wt.path, 'src/victim.txt'));
    expect(whys(await scopeGate(wt.path, wt.baseCommit, ['src/**']))).toEqual([
      'hardlink:src/victim.txt',
    ]);
  });

  it('fails a tracked directory replaced by a symlink to elsewhere', async () => {
    const { wt } = await ticketWorktree();
    const outside = await tempDir();
    await rm(path.join(wt.path, 'src'), { recursive: true });
    await symlink(outside, path.join(wt.path, 'src'));
    // git reports the tracked files as deleted and the link as a new file; it never looks through
    // it.
    expect(await changedPaths(wt.path, wt.baseCommit)).toEqual([
      { path: 'src', status: 'added', symlink: true },
      { path: 'src/greet.js', status: 'deleted', symlink: false },
    ]);
    expect(whys(await scopeGate(wt.path, wt.baseCommit, ['src/**', 'src']))).toEqual([
      'symlink-target-outside:src',
    ]);
  });
});

describe('testFilesGate', () => {
  const TEST_GLOBS = ['test/**/*.test.js'];

  it('passes when only test files changed and every planned test exists', async () => {
    const { wt } = await ticketWorktree();
    await put(wt.path, 'test/farewell.test.js', "import { test } from 'node:test';\n");
    await put(wt.path, 'test/nested/more.test.js', 'x\n');
    expect(
      await testFilesGate(wt.path, wt.baseCommit, TEST_GLOBS, ['test/farewell.test.js']),
    ).toEqual({ ok: true });
  });

  it('fails RED that touched code as a scope violation', async () => {
    const { wt } = await ticketWorktree();
    await put(wt.path, 'test/farewell.test.js', 'x\n');
    await put(wt.path, 'src/farewell.js', 'x\n');
    const result = await testFilesGate(wt.path, wt.baseCommit, TEST_GLOBS);
    expect(result).toMatchObject({ ok: false, reason: 'SCOPE_VIOLATION' });
    expect(whys(result)).toEqual(['out-of-scope:src/farewell.js']);
  });

  it('fails as RED_NOT_RED when a planned test is missing or no test was written', async () => {
    const { wt } = await ticketWorktree();
    const none = await testFilesGate(wt.path, wt.baseCommit, TEST_GLOBS, ['test/farewell.test.js']);
    expect(none).toMatchObject({ ok: false, reason: 'RED_NOT_RED' });
    expect(whys(none)).toEqual([
      'missing-planned-test:test/farewell.test.js',
      'no-test-changes:test/**/*.test.js',
    ]);

    await put(wt.path, 'test/other.test.js', 'x\n');
    expect(
      whys(await testFilesGate(wt.path, wt.baseCommit, TEST_GLOBS, ['test/farewell.test.js'])),
    ).toEqual(['missing-planned-test:test/farewell.test.js']);
  });
});

describe('gates see the branch, not the base', () => {
  it('ignores changes that arrived on the base branch after the fork', async () => {
    const { wt, repoPath } = await ticketWorktree();
    await put(repoPath, 'package.json', '{"changed":"on main"}\n');
    await commit(repoPath, 'unrelated work on main');
    await mkdir(path.join(wt.path, 'src/x'), { recursive: true });
    await put(wt.path, 'src/x/a.js', 'a\n');
    expect(await scopeGate(wt.path, wt.baseCommit, ['src/**'])).toEqual({ ok: true });
  });
});
