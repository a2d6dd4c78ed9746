/**
 * Attacks on the acceptance tests and on what the gates see, each by a `command`-provider
 * Generator (test/adversarial/attack-agent.ts), with the sandbox off and on, plus the honest
 * twin that must reach LIVE. Each attack: never LIVE, the reason journaled, the repository's
 * main branch and config untouched.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { git } from '../../src/workspace/git.js';
import { useLoopHarness, type LoopHarness } from '../helpers/loop-harness.js';
import { baseReport, feature } from '../helpers/loop-script.js';
import { attackOptions, honestPlan } from './attack-agent.js';

const harness = useLoopHarness();

/** What an attack must never change in the registered repository. */
async function repoState(lh: LoopHarness) {
  return {
    main: await lh.mainTip(),
    config: await readFile(path.join(lh.repoPath, '.git', 'config'), 'utf8'),
    refs: (await git(lh.repoPath, ['for-each-ref', '--format=%(refname)']))
      .split('\n')
      .filter((r) => !r.startsWith('refs/heads/loopwright/')),
  };
}

describe.each(['none', 'bwrap'] as const)('acceptance-test attacks, sandbox %s', (mode) => {
  it('the honest twin reaches LIVE', async () => {
    const f = feature('honest');
    const lh = await harness(await attackOptions(f, honestPlan(f), mode));
    const key = await lh.file(f.title);
    await lh.run({ timeoutMs: 120_000 });
    const o = await lh.outcome(key);
    expect(o.state).toBe('LIVE');
    expect(o.context.redCommit).toMatch(/^[0-9a-f]{40}$/);
    // The RED commit is the orchestrator's, recognizable by its run trailer.
    const message = await git(lh.repoPath, ['log', '-1', '--format=%B', o.context.redCommit!]);
    expect(message).toMatch(/\nLoopwright-Run: [0-9a-f-]{36}\n/);
    expect(message).toContain('Loopwright-Phase: red');
  });

  it('weakening the RED test in BUILD is TESTS_CHANGED, found by the orchestrator', async () => {
    const f = feature('weak');
    const weak = f.test.replace(`assert.equal(${f.name}(), '${f.name}');`, 'assert.ok(true);');
    const plan = {
      ...honestPlan(f),
      build: {
        write: { [f.testFile]: weak, [f.module]: 'export function weak() { return 0; }\n' },
        report: baseReport('done', [f.module]),
      },
    };
    const lh = await harness(await attackOptions(f, plan, mode));
    const before = await repoState(lh);
    const key = await lh.file(f.title);
    await lh.run({ timeoutMs: 120_000 });
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context.reason).toBe('TESTS_CHANGED');
    const failed = o.events('GATE_FAILED').map((r) => String(r.event.detail));
    expect(failed[0]).toContain(`${f.testFile}: modified`);
    expect(await repoState(lh)).toEqual(before);
  });

  it('deleting the RED test in BUILD is TESTS_CHANGED', async () => {
    const f = feature('gone');
    const plan = {
      ...honestPlan(f),
      build: { remove: [f.testFile], write: { [f.module]: f.impl }, report: baseReport('done') },
    };
    const lh = await harness(await attackOptions(f, plan, mode));
    const key = await lh.file(f.title);
    await lh.run({ timeoutMs: 120_000 });
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context.reason).toBe('TESTS_CHANGED');
    expect(String(o.events('GATE_FAILED')[0]!.event.detail)).toContain(`${f.testFile}: deleted`);
  });
});

describe.each(['none', 'bwrap'] as const)('hidden-implementation attacks, sandbox %s', (mode) => {
  it('an implementation hidden in .loopwright/ does not reach the GREEN gate', async () => {
    const f = feature('hidden');
    const plan = {
      ...honestPlan(f),
      build: {
        write: {
          '.loopwright/impl.js': f.impl,
          [f.module]: "export { hidden } from '../.loopwright/impl.js';\n",
          [f.liveFile]: f.live,
        },
        report: baseReport('done', [f.module]),
      },
    };
    const lh = await harness(await attackOptions(f, plan, mode));
    const before = await repoState(lh);
    const key = await lh.file(f.title);
    await lh.run({ timeoutMs: 180_000 });
    const o = await lh.outcome(key);
    expect(o.state).not.toBe('LIVE');
    expect(o.context.reason).toBe('ATTEMPTS_EXHAUSTED');
    const verdicts = o.events('VERDICT').map((r) => JSON.stringify(r.event.findings));
    expect(verdicts[0]).toContain('GREEN: test command');
    expect(await repoState(lh)).toEqual(before);
  });

  it('an implementation hidden in an untracked file off plan is committed, refused', async () => {
    const f = feature('untracked');
    const plan = {
      ...honestPlan(f),
      build: {
        write: {
          'lib/impl.js': f.impl,
          [f.module]: "export { untracked } from '../lib/impl.js';\n",
          [f.liveFile]: f.live,
        },
        report: baseReport('done', [f.module]),
      },
    };
    const lh = await harness(await attackOptions(f, plan, mode));
    const key = await lh.file(f.title);
    await lh.run({ timeoutMs: 180_000 });
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context.reason).toBe('SCOPE_VIOLATION');
    expect(String(o.events('GATE_FAILED')[0]!.event.detail)).toContain('lib/impl.js');
  });
});
