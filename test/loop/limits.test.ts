/**
 * The loop's contracts and limits, end to end: malformed reports, hanging agents, endless plan
 * negotiation, cost and wall-clock budgets. Real scripted-agent subprocesses, real git, the real
 * factory on real Postgres.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { groupAlive, pathOf, pidAlive, useLoopHarness } from '../helpers/loop-harness.js';
import { baseReport, COSTS, feature, match, planFor, scriptOf } from '../helpers/loop-script.js';

const harness = useLoopHarness();

/** Poll `check` until it holds or `ms` passed; returns its last answer. */
async function eventually(check: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return check();
}

describe('the agent loop limits', () => {
  it('gives a malformed report one fresh agent, then dead-letters CONTRACT_VIOLATION', async () => {
    const f = feature('malformed');
    const lh = await harness({
      script: scriptOf(
        [f],
        [
          {
            match: match(f, 'generator', 'build'),
            write: { [f.module]: f.impl },
            rawReport: '{not json',
            costUsd: 0.05,
          },
        ],
      ),
    });
    const key = await lh.file(f.title);
    await lh.run();
    const o = await lh.outcome(key);
    expect(o.state).toBe('DEAD_LETTER');
    expect(o.context).toMatchObject({
      reason: 'CONTRACT_VIOLATION',
      returnTo: 'BUILD',
      contractFailures: 1,
      attempt: 1,
    });
    const invalid = o.events('REPORT_INVALID');
    expect(invalid.map((r) => [r.from_state, r.to_state])).toEqual([
      ['BUILD', 'BUILD'],
      ['BUILD', 'DEAD_LETTER'],
    ]);
    for (const row of invalid) {
      expect(row.event.errors).toEqual([
        expect.stringMatching(/^\.loopwright\/report\.json is not JSON: .+/),
      ]);
    }
    // The validation errors are what the operator reads on the dead letter.
    expect(o.context.detail).toBe((invalid[1]!.event.errors as string[]).join('\n'));
    // The retry was a fresh agent on the same attempt, not a re-prompt of the first.
    const builds = o.runs.filter((r) => r.phase === 'build');
    expect(builds.map((r) => [r.attempt, r.status])).toEqual([
      [1, 'succeeded'],
      [1, 'succeeded'],
    ]);
    expect(builds[0]!.pid).not.toBe(builds[1]!.pid);
    // plan, critique, RED — no BUILD report stored
    expect(await o.artifacts('report')).toHaveLength(3);
  }, 60_000);

  it('escalates AGENT_TIMEOUT for a hanging agent and leaves nothing of its ' +
    'process group alive', async () => {
    const f = feature('hang');
    const lh = await harness({
      script: scriptOf([f], [{ match: match(f, 'lead', 'plan_draft'), hang: true }]),
      agentTimeoutSeconds: 2,
    });
    const key = await lh.file(f.title);
    const started = Date.now();
    await lh.run();
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context).toMatchObject({ reason: 'AGENT_TIMEOUT', returnTo: 'PLAN_DRAFT' });
    expect(o.events('AGENT_TIMEOUT').map((r) => [r.from_state, r.to_state])).toEqual([
      ['PLAN_DRAFT', 'ESCALATED'],
    ]);
    const [run] = o.runs;
    expect(run).toMatchObject({ phase: 'plan_draft', status: 'timed_out' });
    expect(run!.finished_at!.getTime() - run!.started_at!.getTime()).toBeGreaterThanOrEqual(2000);
    expect(Date.now() - started).toBeLessThan(20_000);
    // The leader, its group and the helper child it started (same group) are all gone.
    expect(run!.pid).toBeGreaterThan(1);
    expect(run!.pgid).toBe(run!.pid);
    const transcript = readFileSync(run!.transcript_path!, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { subtype?: string; helper_pid?: number });
    const helper = transcript.find((e) => e.subtype === 'hang')?.helper_pid;
    expect(helper).toBeGreaterThan(1);
    expect(
      await eventually(() => !groupAlive(run!.pgid!) && !pidAlive(run!.pid!) && !pidAlive(helper!)),
    ).toBe(true);
    expect(() => process.kill(-run!.pgid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  }, 60_000);

  it('escalates PLAN_ROUNDS_EXHAUSTED when the validator never approves (5 rounds)', async () => {
    const f = feature('rounds');
    const lh = await harness({
      script: scriptOf(
        [f],
        [
          {
            match: match(f, 'validator', 'plan_critique'),
            report: {
              ...baseReport('Plan needs another change'),
              verdict: 'REVISE',
              critiques: ['1. Not quite there yet.'],
            },
            costUsd: 0.01,
          },
        ],
      ),
    });
    const key = await lh.file(f.title);
    await lh.run({ timeoutMs: 90_000 });
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context).toMatchObject({
      reason: 'PLAN_ROUNDS_EXHAUSTED',
      returnTo: 'PLAN_NEGOTIATE',
      round: 5,
    });
    const critiques = o.runs.filter((r) => r.phase === 'plan_critique');
    const revisions = o.runs.filter((r) => r.phase === 'plan_revise');
    expect(critiques.map((r) => r.round)).toEqual([1, 2, 3, 4, 5]);
    expect(revisions.map((r) => r.round)).toEqual([1, 2, 3, 4]);
    const reviews = o.events('PLAN_REVIEWED');
    expect(reviews).toHaveLength(5);
    expect(reviews.every((r) => r.event.verdict === 'REVISE')).toBe(true);
    expect(reviews.at(-1)).toMatchObject({ from_state: 'PLAN_NEGOTIATE', to_state: 'ESCALATED' });
    // Every critique was stored; no plan was ever approved.
    expect(await o.artifacts('plan_review')).toHaveLength(5);
    expect(await o.artifacts('approved_plan')).toEqual([]);
  }, 120_000);

  it('honours a smaller maxPlanRounds from the repo settings', async () => {
    const f = feature('tworounds');
    const lh = await harness({
      script: scriptOf(
        [f],
        [
          {
            match: match(f, 'validator', 'plan_critique'),
            report: { ...baseReport('No'), verdict: 'REVISE', critiques: ['1. No.'] },
          },
        ],
      ),
      limits: { maxPlanRounds: 2 },
    });
    const key = await lh.file(f.title);
    await lh.run();
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context).toMatchObject({
      reason: 'PLAN_ROUNDS_EXHAUSTED',
      round: 2,
      limits: { maxPlanRounds: 2 },
    });
    expect(o.runs.map((r) => r.phase)).toEqual([
      'plan_draft',
      'plan_critique',
      'plan_revise',
      'plan_critique',
    ]);
  }, 60_000);

  it('escalates BUDGET_EXCEEDED once the agents have spent more than maxCostUsd', async () => {
    const f = feature('costly');
    const lh = await harness({ script: scriptOf([f]), limits: { maxCostUsd: 0.05 } });
    const key = await lh.file(f.title);
    await lh.run();
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context).toMatchObject({ reason: 'BUDGET_EXCEEDED', returnTo: 'RED' });
    // 0.02 (plan) + 0.01 (critique) + 0.03 (RED) crosses 0.05 with the RED result.
    expect(o.context.costUsd).toBeCloseTo(COSTS.plan_draft + COSTS.plan_critique + COSTS.red, 10);
    const last = o.journal.at(-1)!;
    expect(last).toMatchObject({
      event_type: 'RED_CONFIRMED',
      from_state: 'RED',
      to_state: 'ESCALATED',
    });
    expect(o.runs.map((r) => [r.phase, Number(r.cost_usd)])).toEqual([
      ['plan_draft', 0.02],
      ['plan_critique', 0.01],
      ['red', 0.03],
    ]);
  }, 60_000);

  it('escalates BUDGET_EXCEEDED when the wall-clock budget runs out ' +
    'under a slow agent', async () => {
    const f = feature('slow');
    // The lead outlasts the budget by far, so the timer (due at 2 s, polled every 2 s) always wins,
    // even late on a loaded machine (6 s once was not enough); it is stopped when superseded.
    const lh = await harness({
      script: scriptOf(
        [f],
        [
          {
            match: match(f, 'lead', 'plan_draft'),
            report: { ...baseReport('Plan'), plan: planFor(f) },
            sleepMs: 30_000,
            costUsd: 0.02,
          },
        ],
      ),
      limits: { wallClockSeconds: 2 },
    });
    const key = await lh.file(f.title);
    await lh.run();
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context).toMatchObject({
      reason: 'BUDGET_EXCEEDED',
      returnTo: 'PLAN_DRAFT',
      detail: 'wall-clock budget exhausted',
    });
    expect(pathOf(o)).toEqual(['QUEUED', 'PLAN_DRAFT', 'ESCALATED']);
    const [exceeded] = o.events('BUDGET_EXCEEDED');
    expect(exceeded).toMatchObject({ actor: 'timer', event: { kind: 'time', timer: 0 } });
    // The lead was stopped once its run was superseded, instead of spending on until it finished.
    expect(o.runs.map((r) => [r.phase, r.status, r.error])).toEqual([
      ['plan_draft', 'cancelled', 'superseded: the ticket moved on while the agent ran'],
    ]);
    expect(o.rejected).toEqual([]);
  }, 60_000);
});
