import { userInfo } from 'node:os';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJournal } from '../../src/db/journal.js';
import { getTicket } from '../../src/db/tickets.js';
import type { TestDb } from '../helpers/db.js';
import {
  agentRunJobs,
  cliDb,
  cliEnv,
  driveToShip,
  dropCliDb,
  dumpState,
  expectBadInput,
  parseContract,
  runCli,
  runJson,
  send,
} from './helpers.js';

let t: TestDb;

beforeAll(async () => {
  t = await cliDb('app', ['co', '--mode', 'copilot']);
});
afterAll(() => dropCliDb(t));

async function newTicket(repo = 'app'): Promise<string> {
  const { stdout } = await runCli(t, ['ticket', 'add', '--repo', repo, '--title', 'work']);
  return stdout.trim();
}

async function escalated(): Promise<string> {
  const key = await newTicket();
  await send(t.db, key, { type: 'START' });
  await send(t.db, key, { type: 'AGENT_TIMEOUT' });
  // The timed-out run's job is finished in real life; no worker runs here, so remove it by hand.
  const { id } = await getTicket(t.db, key);
  await sql`delete from graphile_worker._private_jobs where key like ${`lw:${id}:%`}`.execute(t.db);
  return key;
}

async function lastRow(key: string) {
  return (await readJournal(t.db, (await getTicket(t.db, key)).id)).at(-1)!;
}

describe('operator events', () => {
  it('retry sends an escalated ticket back to work, journaled as the operator', async () => {
    const key = await escalated();
    const result = await runCli(t, ['retry', key, '--reason', 'flaky network']);
    expect(result).toEqual({
      code: 0,
      stdout: `${key}: ESCALATED -> PLAN_DRAFT (row 4)\n`,
      stderr: '',
    });
    expect(await lastRow(key)).toMatchObject({
      event_type: 'RETRY',
      actor: 'operator:tester',
      event: { type: 'RETRY', reason: 'flaky network' },
    });
  });

  it('approve lets a copilot ticket waiting in SHIP merge, and reports it as JSON', async () => {
    const key = await newTicket('co');
    await driveToShip(t.db, key);
    expect((await getTicket(t.db, key)).substate).toBe('awaiting_approval');
    expect(await runJson(t, ['approve', key])).toEqual({
      status: 'applied',
      ticket: key,
      seq: 9,
      fromState: 'SHIP',
      toState: 'SHIP',
      substate: 'merging',
      runId: expect.any(String),
      jobs: 1,
    });
  });

  it('says in one line why the machine refused an event, naming the state; exits 2', async () => {
    const key = await newTicket();
    await send(t.db, key, { type: 'START' });
    expect(await runCli(t, ['approve', key])).toEqual({
      code: 2,
      stdout: '',
      stderr: `loopwright: ${key}: APPROVE is not accepted in PLAN_DRAFT\n`,
    });
    const json = await runCli(t, ['retry', key, '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toEqual({
      schemaVersion: 1,
      error: { code: 'NOT_ACCEPTED', message: `${key}: RETRY is not accepted in PLAN_DRAFT` },
    });
    expect(parseContract(json.stdout)).toEqual({
      status: 'rejected',
      ticket: key,
      state: 'PLAN_DRAFT',
      version: 2,
      reason: 'NOT_ACCEPTED',
      detail: 'RETRY is not accepted in PLAN_DRAFT',
    });
    expect((await getTicket(t.db, key)).version).toBe(2);
  });

  it('reject cancels an escalated ticket; cancel records its reason', async () => {
    const rejected = await escalated();
    expect((await runCli(t, ['reject', rejected])).stdout).toBe(
      `${rejected}: ESCALATED -> CANCELLED (row 4)\n`,
    );
    const cancelled = await newTicket();
    expect((await runCli(t, ['cancel', cancelled, '--reason', 'duplicate of app-1'])).code).toBe(0);
    const ticket = await getTicket(t.db, cancelled);
    expect(ticket.state).toBe('CANCELLED');
    expect(ticket.snapshot.context).toMatchObject({ detail: 'duplicate of app-1' });
    expect(await runCli(t, ['cancel', cancelled])).toEqual({
      code: 2,
      stdout: '',
      stderr: `loopwright: ${cancelled}: CANCEL is not accepted in CANCELLED\n`,
    });
  });

  it('note appends the words as one NOTE row', async () => {
    const key = await newTicket();
    expect(await runJson(t, ['note', key, 'waiting', 'for', 'design'])).toMatchObject({
      status: 'applied',
      seq: 2,
      fromState: 'QUEUED',
      toState: 'QUEUED',
    });
    expect(await lastRow(key)).toMatchObject({
      event_type: 'NOTE',
      actor: 'operator:tester',
      event: { type: 'NOTE', text: 'waiting for design' },
    });
  });

  it('names the operator after the OS user when LOOPWRIGHT_ACTOR is not set', async () => {
    const key = await newTicket();
    const env = cliEnv(t);
    delete env.LOOPWRIGHT_ACTOR;
    expect((await runCli(t, ['note', key, 'hi'], { env })).code).toBe(0);
    expect((await lastRow(key)).actor).toBe(`operator:${userInfo().username}`);
  });

  const bad: [string, string[], string][] = [
    ['an unknown ticket', ['approve', 'app-99'], 'loopwright: unknown ticket: app-99'],
    ['a missing ticket', ['cancel'], 'missing <ticket>'],
    ['an empty reason', ['retry', 'app-1', '--reason', ''], '--reason must not be empty'],
    [
      'a reason over 4000 characters',
      ['reject', 'app-1', '--reason', 'x'.repeat(4001)],
      'invalid event at reason',
    ],
    ['a note without text', ['note', 'app-1'], 'missing <text>'],
    ['a note for an unknown ticket', ['note', 'app-99', 'hello'], 'unknown ticket: app-99'],
    ['an unknown option', ['approve', 'app-1', '--force'], "unknown option '--force'"],
  ];
  it.each(bad)('refuses %s with exit 2 and changes nothing', async (_name, argv, message) => {
    const before = await dumpState(t.db);
    expectBadInput(await runCli(t, argv), message);
    expect(await dumpState(t.db)).toEqual(before);
  });
});

describe('loopwright replay', () => {
  it('re-issues lost work once: replaying twice dispatches one agent run', async () => {
    const key = await newTicket();
    await send(t.db, key, { type: 'START' });
    const ticket = await getTicket(t.db, key);
    expect(await agentRunJobs(t.db, key)).toBe(1);
    // Simulate lost work: the job vanished (e.g. removed by hand) while the ticket still waits for
    // it.
    await sql`delete from graphile_worker._private_jobs where key
      like ${`lw:${ticket.id}:%`}`.execute(t.db);
    expect(await agentRunJobs(t.db, key)).toBe(0);

    const first = await runCli(t, ['replay', key]);
    expect(first).toEqual({
      code: 0,
      stdout: `${key}: PLAN_DRAFT -> PLAN_DRAFT (row 3): re-issued 1 job(s)\n`,
      stderr: '',
    });
    expect(await agentRunJobs(t.db, key)).toBe(1);

    const second = await runCli(t, ['replay', key]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(
      new RegExp(
        `^${key}: nothing dispatched, work already pending: agent_run job \\d+ \\(queued\\)\\n$`,
      ),
    );
    expect(await agentRunJobs(t.db, key)).toBe(1);
    expect((await getTicket(t.db, key)).version).toBe(3);

    expect(await runJson(t, ['replay', key])).toMatchObject({
      status: 'rejected',
      reason: 'WORK_PENDING',
      dispatched: false,
    });
  });

  it('exits 2 when the state implies no work', async () => {
    const key = await escalated();
    expect(await runCli(t, ['replay', key])).toEqual({
      code: 2,
      stdout: '',
      stderr: `loopwright: ${key} is ESCALATED, which implies no work to replay\n`,
    });
  });

  it(
    '--from rewinds to an earlier row, appending history and ' + "re-issuing that row's work",
    async () => {
      const key = await escalated();
      const result = await runJson(t, [
        'replay',
        key,
        '--from',
        '2',
        '--reason',
        'timeout was a fluke',
      ]);
      expect(result).toMatchObject({
        status: 'applied',
        ticket: key,
        seq: 4,
        rewoundTo: 2,
        fromState: 'ESCALATED',
        toState: 'PLAN_DRAFT',
        jobs: expect.any(Number),
      });
      expect(await lastRow(key)).toMatchObject({
        event_type: 'REWIND',
        actor: 'operator:tester',
        event: { type: 'REWIND', toSeq: 2, reason: 'timeout was a fluke' },
      });
      expect(await agentRunJobs(t.db, key)).toBeGreaterThanOrEqual(1);
      const human = await runCli(t, ['replay', key, '--from', '1']);
      expect(human.stdout).toMatch(
        new RegExp(
          `^${key}: rewound to row 1, now QUEUED \\(row 5\\); withdrew \\d+ pending job\\(s\\), ` +
            `issued \\d+\\n$`,
        ),
      );
    },
  );

  const bad: [string, string[], string][] = [
    ['a seq of 0', ['replay', 'app-1', '--from', '0'], '--from must be between 1 and'],
    [
      'a non-integer seq',
      ['replay', 'app-1', '--from', 'abc'],
      '--from must be an integer, got "abc"',
    ],
    [
      'a seq that is not earlier',
      ['replay', 'app-1', '--from', '99'],
      'row 99 is not earlier than app-1',
    ],
    [
      '--reason without --from',
      ['replay', 'app-1', '--reason', 'x'],
      '--reason applies only with --from',
    ],
    ['an unknown ticket', ['replay', 'app-99'], 'unknown ticket: app-99'],
  ];
  it.each(bad)('refuses %s with exit 2 and changes nothing', async (_name, argv, message) => {
    const before = await dumpState(t.db);
    expectBadInput(await runCli(t, argv), message);
    expect(await dumpState(t.db)).toEqual(before);
  });
});
