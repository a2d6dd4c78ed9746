import { describe, expect, it } from 'vitest';
import { runCommandGate } from '../../src/workspace/command-gate.js';
import { createSampleRepo } from '../../src/workspace/sample-repo.js';
import { commitAll } from '../../src/workspace/stage-commit.js';
import { createWorktree } from '../../src/workspace/worktree.js';
import { git, put, tempDir } from './helpers.js';

describe('createSampleRepo', () => {
  it('builds a committed Node project whose tests and live check pass', async () => {
    const repo = await createSampleRepo(await tempDir());
    expect(await git(repo.path, ['symbolic-ref', '--short', 'HEAD'])).toBe('main');
    expect(await git(repo.path, ['status', '--porcelain'])).toBe('');
    expect(await git(repo.path, ['ls-files'])).toBe(
      [
        'README.md',
        'package.json',
        'scripts/live-check.mjs',
        'src/greet.js',
        'test/greet.test.js',
      ].join('\n'),
    );

    const tests = await runCommandGate(repo.testCmd, repo.path, { timeoutMs: 20_000 });
    expect(tests.passed, tests.output).toBe(true);
    expect(tests.output).toMatch(/pass 1/);
    const live = await runCommandGate(repo.liveCmd, repo.path, { timeoutMs: 20_000 });
    expect(live).toMatchObject({ passed: true, output: 'live check ok\n' });
  });

  it('gives gates something to catch: RED fails tests, broken code the live check', async () => {
    const repo = await createSampleRepo(await tempDir());
    const wt = await createWorktree({
      repoPath: repo.path,
      baseBranch: 'main',
      ticketKey: 'LW-1',
      root: await tempDir(),
    });
    await put(
      wt.path,
      'test/farewell.test.js',
      [
        "import { test } from 'node:test';",
        "import assert from 'node:assert/strict';",
        "test('says goodbye', async () => {",
        "  const { farewell } = await import('../src/farewell.js');",
        "  assert.equal(farewell('Ada'), 'Goodbye, Ada!');",
        '});',
        '',
      ].join('\n'),
    );
    const red = await runCommandGate(repo.testCmd, wt.path, { timeoutMs: 20_000 });
    expect(red).toMatchObject({ passed: false, exitCode: 1 });

    await put(wt.path, 'src/greet.js', 'export function greet() { return "nope"; }\n');
    await commitAll(wt, 'break it');
    const live = await runCommandGate(repo.liveCmd, wt.path, { timeoutMs: 20_000 });
    expect(live).toMatchObject({ passed: false, exitCode: 1, output: 'live check FAILED\n' });
  });
});
