import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDb } from '../helpers/db.js';
import { cliDb, dropCliDb, dumpState, expectBadInput, runCli, runJson, send } from './helpers.js';

let t: TestDb;

beforeAll(async () => {
  t = await cliDb('app', 'web', 'idle');
  await runCli(t, ['batch', 'create', 'b1']);
  await runCli(t, [
    'ticket',
    'add',
    '--repo',
    'app',
    '--title',
    'Add health',
    '--batch',
    'b1',
    '--tag',
    'api',
  ]);
  await runCli(t, [
    'ticket',
    'add',
    '--repo',
    'app',
    '--title',
    'Use health',
    '--depends-on',
    'app-1',
  ]);
  await runCli(t, ['ticket', 'add', '--repo', 'web', '--title', 'Page']);
  await runCli(t, ['ticket', 'add', '--repo', 'web', '--title', 'Other page']);
  // app-1: the lead agent edits code while planning -> escalated with a reason and detail.
  await send(t.db, 'app-1', { type: 'START' });
  await sql`update loopwright.agent_runs set status = 'running',
    started_at = now() - interval '65 seconds' where status = 'queued'`.execute(t.db);
  await send(t.db, 'app-1', {
    type: 'GATE_FAILED',
    reason: 'LEAD_ENCROACHMENT',
    detail: 'lead edited src/app.ts',
    costUsd: 0.25,
  });
  await sql`update loopwright.agent_runs set status = 'failed',
    finished_at = started_at + interval '62 seconds', cost_usd = 0.25`.execute(t.db);
  // not approvable: refused as bad input, recorded as a rejected event
  expect((await runCli(t, ['approve', 'app-1'])).code).toBe(2);
  expect((await runCli(t, ['note', 'app-1', 'looking into it'])).code).toBe(0);
  await runCli(t, ['cancel', 'web-2']);
});
afterAll(() => dropCliDb(t));

describe('loopwright show', () => {
  it('prints header, dependencies, timeline with escalation reason, runs, rejections', async () => {
    const { code, stdout, stderr } = await runCli(t, ['show', 'app-1']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.split('\n');
    expect(lines[0]).toBe('app-1  Add health');
    expect(stdout).toMatch(/^repo: +app \(batch b1\)$/m);
    expect(stdout).toMatch(/^state: +ESCALATED \(reason LEAD_ENCROACHMENT\)$/m);
    expect(stdout).toMatch(/^detail: +lead edited src\/app\.ts$/m);
    expect(stdout).toMatch(/^version: +4 \(ticket\/\d+\)$/m);
    expect(stdout).toMatch(/^current run: +-$/m);
    expect(stdout).toMatch(/^depends on: +-$/m);
    expect(stdout).toMatch(/^dependents: +app-2 \(QUEUED\)$/m);
    expect(stdout).toMatch(/^ +1 +\S+ \S+ +CREATED +\(new\) -> QUEUED +operator:tester +-$/m);
    expect(stdout).toMatch(/^ +2 +\S+ \S+ +START +QUEUED -> PLAN_DRAFT +worker:test +-$/m);
    expect(stdout).toMatch(
      new RegExp(
        '^ +3 +\\S+ \\S+ +GATE_FAILED +PLAN_DRAFT -> ESCALATED +worker:test ' +
          '+LEAD_ENCROACHMENT: lead edited src/app\\.ts$',
        'm',
      ),
    );
    expect(stdout).toMatch(
      /^ +4 +\S+ \S+ +NOTE +ESCALATED -> ESCALATED +operator:tester +looking into it$/m,
    );
    expect(stdout).toMatch(/^ROLE +PHASE +ATTEMPT +STATUS +DURATION +COST +RUN$/m);
    expect(stdout).toMatch(/^lead +plan_draft +0 +failed +1m02s +\$0\.25 +[0-9a-f]{8}$/m);
    expect(stdout).toMatch(/^rejected events$/m);
    expect(stdout).toMatch(
      /^\S+ \S+ +APPROVE +operator:tester +NOT_ACCEPTED: APPROVE is not accepted in ESCALATED$/m,
    );
  });

  it('gives all of it as one JSON document', async () => {
    const view = await runJson(t, ['show', 'app-1']);
    expect(view.ticket).toMatchObject({
      key: 'app-1',
      repo: 'app',
      batch: 'b1',
      title: 'Add health',
      state: 'ESCALATED',
      substate: null,
      version: 4,
      tags: ['api'],
      attempt: 0,
      round: 0,
      reason: 'LEAD_ENCROACHMENT',
      detail: 'lead edited src/app.ts',
      costUsd: 0.25,
      currentRunId: null,
    });
    expect(view.dependencies).toEqual([]);
    expect(view.dependents).toEqual([{ key: 'app-2', state: 'QUEUED' }]);
    expect(
      view.timeline.map(
        (r: {
          seq: number;
          event: string;
          fromState: string;
          toState: string;
          reason: string | null;
        }) => [r.seq, r.event, r.fromState, r.toState, r.reason],
      ),
    ).toEqual([
      [1, 'CREATED', null, 'QUEUED', null],
      [2, 'START', 'QUEUED', 'PLAN_DRAFT', null],
      [3, 'GATE_FAILED', 'PLAN_DRAFT', 'ESCALATED', 'LEAD_ENCROACHMENT'],
      [4, 'NOTE', 'ESCALATED', 'ESCALATED', null],
    ]);
    expect(view.timeline[3]).toMatchObject({
      actor: 'operator:tester',
      detail: 'looking into it',
      at: expect.any(String),
    });
    expect(view.runs).toEqual([
      expect.objectContaining({
        role: 'lead',
        phase: 'plan_draft',
        attempt: 0,
        status: 'failed',
        durationMs: 62_000,
        costUsd: 0.25,
      }),
    ]);
    expect(view.rejected).toEqual([
      {
        at: expect.any(String),
        event: 'APPROVE',
        state: 'ESCALATED',
        version: 3,
        actor: 'operator:tester',
        reason: 'NOT_ACCEPTED: APPROVE is not accepted in ESCALATED',
      },
    ]);
  });

  it('shows a ticket that waits on another', async () => {
    const { stdout } = await runCli(t, ['show', 'app-2']);
    expect(stdout).toMatch(/^depends on: +app-1 \(ESCALATED\)$/m);
    expect(stdout).toMatch(/^agent runs\n\(none\)$/m);
    expect(stdout).not.toMatch(/rejected events/);
  });

  it('refuses an unknown ticket or a missing argument with one line', async () => {
    const before = await dumpState(t.db);
    expectBadInput(await runCli(t, ['show', 'app-99']), 'loopwright: unknown ticket: app-99');
    expectBadInput(await runCli(t, ['show']), 'missing <ticket>');
    expectBadInput(await runCli(t, ['show', 'app-1', 'app-2']), 'unexpected argument: app-2');
    expect(await dumpState(t.db)).toEqual(before);
  });
});

describe('loopwright status', () => {
  it('counts tickets per repository and state, with totals and idle repositories', async () => {
    expect(await runJson(t, ['status'])).toEqual({
      repos: [
        { repo: 'app', states: { QUEUED: 1, ESCALATED: 1 }, total: 2 },
        { repo: 'idle', states: {}, total: 0 },
        { repo: 'web', states: { QUEUED: 1, CANCELLED: 1 }, total: 2 },
      ],
      totals: { QUEUED: 2, ESCALATED: 1, CANCELLED: 1 },
      total: 4,
      waiting: [],
      disk: expect.objectContaining({ bytes: expect.any(Number), runs: expect.any(Number) }),
      shipModes: [
        { repo: 'app', mode: 'local', github: null, pollSeconds: null },
        { repo: 'idle', mode: 'local', github: null, pollSeconds: null },
        { repo: 'web', mode: 'local', github: null, pollSeconds: null },
      ],
    });
  });

  it('prints the board as a table with states in lifecycle order', async () => {
    const { code, stdout } = await runCli(t, ['status']);
    expect(code).toBe(0);
    expect(stdout.split('\n')).toEqual([
      expect.stringMatching(/^REPO +QUEUED +ESCALATED +CANCELLED +TOTAL$/),
      expect.stringMatching(/^app +1 +1 +0 +2$/),
      expect.stringMatching(/^idle +0 +0 +0 +0$/),
      expect.stringMatching(/^web +1 +0 +1 +2$/),
      expect.stringMatching(/^TOTAL +2 +1 +1 +4$/),
      expect.stringMatching(/^disk: (≥ )?[\d.]+ [KMGT]?i?B under \S+ \(runs /),
      '',
    ]);
  });
});
