/**
 * The orchestrator's own gates, end to end: real worktrees, real scripted-agent subprocesses, the
 * real factory on real Postgres. Each test breaks one step of an otherwise happy script and pins
 * where the ticket ends, with which reason, and what the journal and artifacts say about it.
 */
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gateResults, pathOf, useLoopHarness, type LoopHarness } from '../helpers/loop-harness.js';
import { baseReport, feature, match, scriptOf, type Feature } from '../helpers/loop-script.js';

const harness = useLoopHarness();

/** The detail text of a journal row's event. */
const detailOf = (row: { event: Record<string, unknown> }) => String(row.event.detail ?? '');

/**
 * Every BUILD attempt breaks scope the same way: the ticket retries BUILD once with a fresh agent
 * (attempt 2), then escalates SCOPE_VIOLATION with the gate's detail. Returns the detail texts.
 */
async function expectScopeEscalation(
  f: Feature,
  breakBuild: Record<string, unknown>,
): Promise<{ details: string[]; lh: LoopHarness }> {
  const lh = await harness({
    script: scriptOf([f], [{ match: match(f, 'generator', 'build'), ...breakBuild }]),
    limits: { maxAttempts: 2 },
  });
  const base = await lh.mainTip();
  const key = await lh.file(f.title);
  await lh.run();
  const o = await lh.outcome(key);
  expect(o.state).toBe('ESCALATED');
  expect(o.context).toMatchObject({ reason: 'SCOPE_VIOLATION', returnTo: 'BUILD', attempt: 2 });
  const failures = o.events('GATE_FAILED');
  expect(failures.map((r) => [r.from_state, r.to_state, r.event.reason])).toEqual([
    ['BUILD', 'BUILD', 'SCOPE_VIOLATION'],
    ['BUILD', 'ESCALATED', 'SCOPE_VIOLATION'],
  ]);
  const builds = o.runs.filter((r) => r.phase === 'build');
  expect(builds.map((r) => [r.attempt, r.status])).toEqual([
    [1, 'succeeded'],
    [2, 'succeeded'],
  ]);
  // A fresh agent: another run, another process.
  expect(builds[0]!.id).not.toBe(builds[1]!.id);
  expect(builds[0]!.pid).not.toBe(builds[1]!.pid);
  // The findings of attempt 1 were handed to attempt 2; nothing reached VALIDATE or the base.
  expect(o.journal.some((r) => r.to_state === 'VALIDATE')).toBe(false);
  expect(await lh.mainTip()).toBe(base);
  expect(o.context.detail).toBe(detailOf(failures[1]!));
  return { details: failures.map(detailOf), lh };
}

describe('the agent loop gates', () => {
  it('escalates LEAD_ENCROACHMENT when the lead writes code while drafting the plan', async () => {
    const f = feature('encroach');
    const lh = await harness({
      script: scriptOf(
        [f],
        [
          {
            match: match(f, 'lead', 'plan_draft'),
            write: { 'src/hack.js': 'export const hack = true;\n' },
            report: {
              ...baseReport('Plan, and a head start on the code'),
              plan: {
                goal: 'x',
                allowedFiles: [f.module],
                testFiles: [f.testFile],
                acceptanceCriteria: [{ name: 'n', test: 't' }],
              },
            },
            costUsd: 0.02,
          },
        ],
      ),
    });
    const base = await lh.mainTip();
    const key = await lh.file(f.title);
    await lh.run();
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context).toMatchObject({
      reason: 'LEAD_ENCROACHMENT',
      returnTo: 'PLAN_DRAFT',
      planArtifactId: null,
      costUsd: 0.02,
    });
    expect(o.context.detail).toMatch(/^src\/hack\.js: outside-loopwright-dir \(added\)$/m);
    expect(pathOf(o)).toEqual(['QUEUED', 'PLAN_DRAFT', 'ESCALATED']);
    const [failed] = o.events('GATE_FAILED');
    expect(failed).toMatchObject({
      from_state: 'PLAN_DRAFT',
      to_state: 'ESCALATED',
      event: { reason: 'LEAD_ENCROACHMENT' },
    });
    expect(failed!.actor).toMatch(/^agent:lead:/);
    // The plan was never stored, and nothing reached the base branch.
    expect(await o.artifacts('plan')).toEqual([]);
    expect(o.runs.map((r) => [r.role, r.phase, r.status])).toEqual([
      ['lead', 'plan_draft', 'succeeded'],
    ]);
    expect(await lh.mainTip()).toBe(base);
  }, 60_000);

  it('retries BUILD with a fresh agent, then escalates SCOPE_VIOLATION, for a file outside ' +
    'the allowed globs', async () => {
    const f = feature('outofglob');
    const { details } = await expectScopeEscalation(f, {
      write: {
        [f.module]: f.impl,
        [f.liveFile]: f.live,
        'src/other.js': 'export const other = 1;\n',
      },
      report: baseReport('Implemented, and tidied a neighbour', [f.module, 'src/other.js']),
    });
    for (const d of details) expect(d).toBe('src/other.js: out-of-scope (added)');
  }, 60_000);

  it('retries BUILD, then escalates SCOPE_VIOLATION, for a ../ write outside the worktree ' +
    '(outside-write probe)', async () => {
    const f = feature('escape');
    const { details, lh } = await expectScopeEscalation(f, {
      write: { [f.module]: f.impl, [f.liveFile]: f.live, '../escape.txt': 'I got out\n' },
      report: baseReport('Implemented', [f.module]),
    });
    const ws = await lh.db.db
      .selectFrom('loopwright.workspaces')
      .selectAll()
      .executeTakeFirstOrThrow();
    const escaped = path.join(realpathSync(path.dirname(ws.path)), 'escape.txt');
    // The file really landed outside the worktree, and the probe named it: created, then rewritten.
    expect(existsSync(escaped)).toBe(true);
    expect(details).toEqual([
      `${escaped}: outside-write (created)`,
      `${escaped}: outside-write (modified)`,
    ]);
  }, 60_000);

  it('retries BUILD, then escalates SCOPE_VIOLATION, for an allowed path that is a symlink ' +
    'out of the worktree', async () => {
    const f = feature('symlink');
    const target = '/etc/hostname';
    const { details } = await expectScopeEscalation(f, {
      write: { [f.module]: f.impl },
      symlink: { [f.liveFile]: target },
      report: baseReport('Implemented; the live check reuses a system file', [
        f.module,
        f.liveFile,
      ]),
    });
    for (const d of details) expect(d).toBe(`${f.liveFile}: symlink-target-outside (${target})`);
  }, 60_000);

  it('retries RED with a fresh agent, then escalates RED_NOT_RED, when the ' +
    '"failing" test passes', async () => {
    const f = feature('notred');
    const passing =
      "import { test } from 'node:test';\nimport assert from " +
      "'node:assert/strict';\n\ntest('arithmetic still works', () => assert.equal(1 + 1, 2));\n";
    const lh = await harness({
      script: scriptOf(
        [f],
        [
          {
            match: match(f, 'generator', 'red'),
            write: { [f.testFile]: passing },
            report: baseReport('Failing test', [f.testFile]),
            costUsd: 0.03,
          },
        ],
      ),
    });
    const key = await lh.file(f.title);
    await lh.run();
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context).toMatchObject({
      reason: 'RED_NOT_RED',
      returnTo: 'RED',
      redAttempt: 2,
      attempt: 0,
    });
    expect(o.context.detail).toMatch(/^RED: test command `node --test` passed in \d+ ms/);
    expect(o.events('GATE_FAILED').map((r) => [r.from_state, r.to_state, r.event.reason])).toEqual([
      ['RED', 'RED', 'RED_NOT_RED'],
      ['RED', 'ESCALATED', 'RED_NOT_RED'],
    ]);
    const reds = o.runs.filter((r) => r.phase === 'red');
    expect(reds.map((r) => r.attempt)).toEqual([1, 2]);
    expect(reds[0]!.pid).not.toBe(reds[1]!.pid);
    // The orchestrator ran the repo's test command itself, twice, and it passed both times.
    const red = await gateResults(o, 'RED');
    expect(red.map((g) => [g.command, g.passed, g.exitCode])).toEqual([
      ['node --test', true, 0],
      ['node --test', true, 0],
    ]);
    expect(o.runs.some((r) => r.phase === 'build')).toBe(false);
  }, 60_000);

  it('treats a validator PASS without evidence as FAIL and builds again', async () => {
    const f = feature('noevidence');
    const lh = await harness({
      script: scriptOf(
        [f],
        [
          {
            match: match(f, 'validator', 'validate', { attempt: 1 }),
            report: {
              ...baseReport('Looks good to me'),
              verdict: 'PASS',
              findings: [],
              evidence: [],
            },
            costUsd: 0.02,
          },
        ],
      ),
    });
    const key = await lh.file(f.title);
    await lh.run();
    const o = await lh.outcome(key);
    const verdicts = o.events('VERDICT');
    expect(
      verdicts.map((r) => [r.from_state, r.to_state, r.event.verdict, r.event.findings]),
    ).toEqual([
      ['VALIDATE', 'BUILD', 'FAIL', ['validator said PASS without evidence: treated as FAIL']],
      ['VALIDATE', 'SHIP', 'PASS', []],
    ]);
    expect(verdicts[0]!.snapshot.context).toMatchObject({
      attempt: 2,
      findings: ['validator said PASS without evidence: treated as FAIL'],
    });
    expect(
      o.runs
        .filter((r) => r.phase === 'build' || r.phase === 'validate')
        .map((r) => [r.phase, r.attempt]),
    ).toEqual([
      ['build', 1],
      ['validate', 1],
      ['build', 2],
      ['validate', 2],
    ]);
    // Only the verdict with evidence was kept as a verdict artifact; the second attempt shipped.
    expect((await o.artifacts('verdict')).map((a) => JSON.parse(a.content).verdict)).toEqual([
      'PASS',
    ]);
    expect(o.state).toBe('LIVE');
  }, 60_000);
});
