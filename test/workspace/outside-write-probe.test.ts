import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommandGate } from '../../src/workspace/command-gate.js';
import { mergeToBase } from '../../src/workspace/merge.js';
import { checkOutsideWrites, outsideWriteProbe } from '../../src/workspace/outside-write-probe.js';
import { scopeGate } from '../../src/workspace/scope-gate.js';
import { commitAll } from '../../src/workspace/stage-commit.js';
import { createWorktree } from '../../src/workspace/worktree.js';
import { put, sampleWorkspace } from './helpers.js';

/** A stand-in for an agent: a shell script run with the worktree as cwd. */
async function scriptedAgent(cwd: string, script: string): Promise<void> {
  const run = await runCommandGate(script, cwd, { timeoutMs: 10_000 });
  expect(run.passed, run.output).toBe(true);
}

async function setup() {
  const { repo, root, wt } = await sampleWorkspace('LW-1');
  const probe = await outsideWriteProbe({
    repoPath: repo.path,
    worktreesRoot: root,
    worktreePath: wt.path,
  });
  return { repo, root, wt, probe };
}

describe('outsideWriteProbe', () => {
  it('stays quiet when the agent only writes inside its worktree', async () => {
    const { wt, probe } = await setup();
    await scriptedAgent(wt.path, 'mkdir -p src/new && echo x > src/new/a.js && echo y > notes.txt');
    expect(await probe.check()).toEqual({ ok: true });
  });

  it('catches a ../ write that the scope gate cannot see', async () => {
    const { wt, probe } = await setup();
    await scriptedAgent(
      wt.path,
      'echo pwned > ../escape.txt && echo x > ../../top.txt && echo y > src/greet.js',
    );
    expect(await scopeGate(wt.path, wt.baseCommit, ['src/**'])).toEqual({ ok: true });
    const result = await probe.check();
    expect(result.ok === false && result.violations).toEqual([
      {
        path: path.join(path.dirname(wt.path), 'escape.txt'),
        why: 'outside-write',
        detail: 'created',
      },
      {
        path: path.join(path.dirname(path.dirname(wt.path)), 'top.txt'),
        why: 'outside-write',
        detail: 'created',
      },
    ]);
  });

  it('catches writes to the main checkout and its git hooks, ignored files included', async () => {
    const { repo, wt, probe } = await setup();
    const main = path.relative(wt.path, repo.path);
    await put(repo.path, '.gitignore', '.env\n');
    const before = await outsideWriteProbe({
      repoPath: repo.path,
      worktreesRoot: path.dirname(path.dirname(wt.path)),
      worktreePath: wt.path,
    });
    await scriptedAgent(
      wt.path,
      `echo hacked > ${main}/src/greet.js && echo K=1 > ${main}/.env && echo '#!/bin/sh' ` +
        `> ${main}/.git/hooks/post-merge`,
    );
    const result = await before.check();
    expect(
      result.ok === false &&
        result.violations.map((v) => `${v.detail}:${path.relative(repo.path, v.path)}`),
    ).toEqual(['created:.env', 'created:.git/hooks/post-merge', 'modified:src/greet.js']);
    expect((await probe.check()).ok).toBe(false);
  });

  it('does not blame the agent for a loopwright merge updating the main checkout', async () => {
    const { repo, root, wt, probe } = await setup();
    const other = await createWorktree({
      repoPath: repo.path,
      baseBranch: 'main',
      ticketKey: 'LW-2',
      root,
    });
    await put(
      other.path,
      'src/greet.js',
      'export function greet(n) { return `Hello, ${n}!`; } // v2\n',
    );
    await put(other.path, 'src/new/feature.js', 'x\n');
    await commitAll(other, 'LW-2');
    const merged = await mergeToBase({
      repoPath: repo.path,
      baseBranch: 'main',
      tip: other.branch,
      message: 'LW-2',
    });
    expect(merged).toMatchObject({ ok: true, checkoutUpdated: true });
    expect(await readFile(path.join(repo.path, 'src/new/feature.js'), 'utf8')).toBe('x\n');
    await scriptedAgent(wt.path, 'echo fine > src/mine.js');
    expect(await probe.check()).toEqual({ ok: true });
  });

  it('works from a stored (JSON round-tripped) snapshot', async () => {
    const { wt, probe } = await setup();
    const stored = JSON.parse(JSON.stringify(probe.snapshot));
    await scriptedAgent(wt.path, 'echo x > ../escape.txt');
    expect((await checkOutsideWrites(stored)).ok).toBe(false);
  });
});
