import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dependenciesOf } from '../../src/db/dependencies.js';
import { getTicket } from '../../src/db/tickets.js';
import type { TestDb } from '../helpers/db.js';
import {
  cliDb,
  dropCliDb,
  dumpState,
  expectBadInput,
  runCli,
  runJson,
  send,
  tempDir,
} from './helpers.js';

let t: TestDb;
let bodyDir: string;

beforeAll(async () => {
  t = await cliDb('app', 'web');
  expect((await runCli(t, ['batch', 'create', 'sprint-1'])).code).toBe(0);
  bodyDir = tempDir();
  writeFileSync(path.join(bodyDir, 'body.md'), '## Why\nBecause.\n');
});
afterAll(() => dropCliDb(t));

describe('loopwright ticket add', () => {
  it('files a ticket and prints its key', async () => {
    const result = await runCli(t, ['ticket', 'add', '--repo', 'app', '--title', 'Add /health']);
    expect(result).toEqual({ code: 0, stdout: 'app-1\n', stderr: '' });
    const ticket = await getTicket(t.db, 'app-1');
    expect(ticket).toMatchObject({
      title: 'Add /health',
      state: 'QUEUED',
      version: 1,
      priority: 0,
      tags: [],
      batch_id: null,
    });
  });

  it('takes a body file, dependencies, a batch, a priority and tags', async () => {
    const created = await runJson(
      t,
      [
        'ticket',
        'add',
        '--repo',
        'app',
        '--title',
        ' Second ',
        '--body-file',
        'body.md',
        '--depends-on',
        'app-1',
        '--batch',
        'sprint-1',
        '--priority=-5',
        '--tag',
        'api,backend',
        '--tag',
        'api',
        '--tag',
        'urgent',
      ],
      { cwd: bodyDir },
    );
    expect(created).toEqual({
      key: 'app-2',
      id: expect.any(String),
      state: 'QUEUED',
      repo: 'app',
      title: 'Second',
    });
    const ticket = await getTicket(t.db, 'app-2');
    expect(ticket).toMatchObject({
      body: '## Why\nBecause.\n',
      priority: -5,
      tags: ['api', 'backend', 'urgent'],
    });
    expect(ticket.batch_id).not.toBeNull();
    expect(await dependenciesOf(t.db, ticket.id)).toEqual([{ key: 'app-1', state: 'QUEUED' }]);
  });

  it('takes an inline body', async () => {
    expect(
      (
        await runCli(t, [
          'ticket',
          'add',
          '--repo',
          'web',
          '--title',
          'Page',
          '--body',
          'inline text',
          '--priority',
          '7',
        ])
      ).stdout,
    ).toBe('web-1\n');
    expect((await getTicket(t.db, 'web-1')).body).toBe('inline text');
  });
});

describe('loopwright ticket list', () => {
  it('lists tickets by priority as a table', async () => {
    const result = await runCli(t, ['ticket', 'list']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+STATE\s+PRI\s+TITLE\s+TAGS\s+UPDATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['web-1', 'app-1', 'app-2']);
  });

  it('filters by repo, state (any case) and batch', async () => {
    await send(t.db, 'app-1', { type: 'START' });
    const keys = async (...args: string[]) =>
      (await runJson<{ tickets: { key: string }[] }>(t, ['ticket', 'list', ...args])).tickets.map(
        (r) => r.key,
      );
    expect(await keys('--repo', 'app')).toEqual(['app-1', 'app-2']);
    expect(await keys('--state', 'plan_draft')).toEqual(['app-1']);
    expect(await keys('--state', 'QUEUED', '--repo', 'app')).toEqual(['app-2']);
    expect(await keys('--batch', 'sprint-1')).toEqual(['app-2']);
    expect(await keys('--state', 'LIVE')).toEqual([]);
  });

  it('prints rows with state, substate, priority and tags as JSON', async () => {
    const rows = (await runJson(t, ['ticket', 'list', '--repo', 'app'])).tickets;
    expect(rows[1]).toEqual({
      key: 'app-2',
      repo: 'app',
      title: 'Second',
      state: 'QUEUED',
      substate: null,
      priority: -5,
      tags: ['api', 'backend', 'urgent'],
      version: 1,
      updatedAt: expect.any(String),
    });
  });
});

describe('loopwright ticket depend', () => {
  it('adds dependency edges and prints them with their states', async () => {
    await runCli(t, ['ticket', 'add', '--repo', 'web', '--title', 'Third']);
    const result = await runCli(t, ['ticket', 'depend', 'web-2', '--on', 'web-1,app-1']);
    expect(result).toEqual({
      code: 0,
      stdout: 'web-2 depends on app-1 (PLAN_DRAFT), web-1 (QUEUED)\n',
      stderr: '',
    });
    expect(await runJson(t, ['ticket', 'depend', 'web-2', '--on', 'app-2'])).toEqual({
      ticket: 'web-2',
      dependencies: [
        { key: 'app-1', state: 'PLAN_DRAFT' },
        { key: 'app-2', state: 'QUEUED' },
        { key: 'web-1', state: 'QUEUED' },
      ],
    });
  });

  it('refuses an edge that closes a cycle, naming the cycle, and stores nothing', async () => {
    const before = await dumpState(t.db);
    // web-2 already depends on app-1, so app-1 -> web-2 closes a cycle (web-1 alone would not).
    expectBadInput(
      await runCli(t, ['ticket', 'depend', 'app-1', '--on', 'web-1,web-2']),
      'dependency cycle: app-1 -> web-2 -> app-1',
    );
    expect(await dumpState(t.db)).toEqual(before);
  });
});

describe('loopwright ticket refuses bad input and stores nothing', () => {
  const cases: [string, string[], string][] = [
    ['add without a title', ['ticket', 'add', '--repo', 'app'], 'ticket add needs --title'],
    [
      'add with a blank title',
      ['ticket', 'add', '--repo', 'app', '--title', '  '],
      '--title must not be empty',
    ],
    ['add without a repo', ['ticket', 'add', '--title', 'x'], 'ticket add needs --repo'],
    [
      'add to an unknown repo',
      ['ticket', 'add', '--repo', 'nope', '--title', 'x'],
      'unknown repo: nope',
    ],
    [
      'add with an unknown dependency',
      ['ticket', 'add', '--repo', 'app', '--title', 'x', '--depends-on', 'app-1,app-99'],
      'unknown ticket: app-99',
    ],
    [
      'add to an unknown batch',
      ['ticket', 'add', '--repo', 'app', '--title', 'x', '--batch', 'nope'],
      'unknown batch: nope',
    ],
    [
      'add with a missing body file',
      ['ticket', 'add', '--repo', 'app', '--title', 'x', '--body-file', '/nonexistent/body.md'],
      'cannot read --body-file /nonexistent/body.md: no such file',
    ],
    [
      'add with both --body and --body-file',
      ['ticket', 'add', '--repo', 'app', '--title', 'x', '--body', 'b', '--body-file', 'f'],
      'give either --body or --body-file, not both',
    ],
    [
      'add with a non-integer priority',
      ['ticket', 'add', '--repo', 'app', '--title', 'x', '--priority', 'abc'],
      '--priority must be an integer, got "abc"',
    ],
    [
      'add with a fractional priority',
      ['ticket', 'add', '--repo', 'app', '--title', 'x', '--priority', '1.5'],
      '--priority must be an integer, got "1.5"',
    ],
    [
      'add with a negative priority written as an option',
      ['ticket', 'add', '--repo', 'app', '--title', 'x', '--priority', '-5'],
      "option '--priority' argument is ambiguous (for a value starting with -, write " +
        '--priority=-XYZ)',
    ],
    [
      'add with a priority out of range',
      ['ticket', 'add', '--repo', 'app', '--title', 'x', '--priority', '5000'],
      '--priority must be between -1000 and 1000',
    ],
    [
      'add with an invalid tag',
      ['ticket', 'add', '--repo', 'app', '--title', 'x', '--tag', 'Bad Tag'],
      'invalid tag "Bad Tag"',
    ],
    [
      'add with a positional argument',
      ['ticket', 'add', 'oops', '--repo', 'app', '--title', 'x'],
      'unexpected argument: oops',
    ],
    [
      'list with an unknown state',
      ['ticket', 'list', '--state', 'NOPE'],
      'unknown state: NOPE (expected one of: QUEUED,',
    ],
    ['list with an unknown repo', ['ticket', 'list', '--repo', 'nope'], 'unknown repo: nope'],
    ['list with an unknown batch', ['ticket', 'list', '--batch', 'nope'], 'unknown batch: nope'],
    [
      'depend on an unknown ticket',
      ['ticket', 'depend', 'app-1', '--on', 'app-99'],
      'unknown ticket: app-99',
    ],
    [
      'depend for an unknown ticket',
      ['ticket', 'depend', 'app-99', '--on', 'app-1'],
      'unknown ticket: app-99',
    ],
    ['depend without --on', ['ticket', 'depend', 'app-1'], 'ticket depend needs --on'],
    [
      'depend on itself',
      ['ticket', 'depend', 'app-1', '--on', 'app-1'],
      'dependency cycle: app-1 -> app-1',
    ],
    ['a missing subcommand', ['ticket'], 'ticket needs a subcommand: add, list, depend'],
  ];
  it.each(cases)('%s', async (_name, argv, message) => {
    const before = await dumpState(t.db);
    expectBadInput(await runCli(t, argv), message);
    expect(await dumpState(t.db)).toEqual(before);
  });
});

describe('loopwright batch', () => {
  it('creates batches and lists them with ticket counts', async () => {
    expect(await runJson(t, ['batch', 'create', 'sprint-2'])).toEqual({
      name: 'sprint-2',
      status: 'open',
      createdAt: expect.any(String),
    });
    expect((await runJson(t, ['batch', 'list'])).batches).toEqual([
      { name: 'sprint-1', status: 'open', tickets: 1, live: 0, createdAt: expect.any(String) },
      { name: 'sprint-2', status: 'open', tickets: 0, live: 0, createdAt: expect.any(String) },
    ]);
    const table = await runCli(t, ['batch', 'list']);
    expect(table.stdout).toMatch(
      /^NAME\s+STATUS\s+TICKETS\s+LIVE\s+CREATED\nsprint-1\s+open\s+1\s+0\s/,
    );
  });

  it('refuses a duplicate or empty batch name and stores nothing', async () => {
    const before = await dumpState(t.db);
    expectBadInput(
      await runCli(t, ['batch', 'create', 'sprint-1']),
      'batch already exists: sprint-1',
    );
    expectBadInput(
      await runCli(t, ['batch', 'create', ' ']),
      'a batch name must be 1 to 100 characters',
    );
    expectBadInput(await runCli(t, ['batch', 'create']), 'missing <name>');
    expect(await dumpState(t.db)).toEqual(before);
  });
});
