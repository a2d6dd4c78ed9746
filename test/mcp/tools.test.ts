/**
 * Every `loopwright mcp` tool through a real MCP client (the SDK's Client over stdio) talking to a
 * real `loopwright mcp` subprocess on a test database: answers are structured, operator actions
 * are journaled as `operator:mcp:<client>`, and bad input is one tool error that stores nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRepository } from '../../src/db/repositories.js';
import { readJournal } from '../../src/db/journal.js';
import { getTicket } from '../../src/db/tickets.js';
import { MAX_BODY_BYTES } from '../../src/mcp/inputs.js';
import { dumpState, makeGitRepo, removeTempDirs } from '../cli/helpers.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { connectMcp, type McpSession } from './mcp-client.js';

let t: TestDb;
let mcp: McpSession;
let home: string;

beforeAll(async () => {
  t = await createTestDb(4);
  home = mkdtempSync(path.join(tmpdir(), 'lw-mcp-home-'));
  for (const name of ['app', 'web'])
    await insertRepository(t.db, { name, path: makeGitRepo(name), test_cmd: 'true' });
  mcp = await connectMcp(
    {
      LOOPWRIGHT_DATABASE_URL: t.url,
      LOOPWRIGHT_HOME: home,
      PATH: process.env.PATH!,
      HOME: process.env.HOME!,
      ANTHROPIC_API_KEY: 'sk-ant-secret-value-123',
    },
    'Test Client/1 ; rm -rf',
  );
}, 60_000);

afterAll(async () => {
  await mcp?.close();
  await t?.drop();
  removeTempDirs();
  rmSync(home, { recursive: true, force: true });
});

const ACTOR = 'operator:mcp:test-client-1-rm-rf';

/** The call fails with one line matching `message`, and nothing stored changed. */
async function refusedWithoutChange(
  tool: string,
  args: Record<string, unknown>,
  message: RegExp,
): Promise<string> {
  const before = await dumpState(t.db);
  const line = await mcp.fails(tool, args);
  expect(line).toMatch(message);
  expect(line).not.toContain('\n');
  expect(await dumpState(t.db)).toEqual(before);
  return line;
}

describe('loopwright mcp tools', () => {
  it('lists every tool with a JSON Schema for its input and read-only hints', async () => {
    const { tools } = await mcp.client.listTools();
    expect(tools.map((x) => x.name)).toEqual([
      'board',
      'status',
      'show_ticket',
      'logs',
      'oracle',
      'file_tickets',
      'approve',
      'retry',
      'reject',
      'cancel',
      'replay',
    ]);
    for (const tool of tools) expect(tool.inputSchema.type).toBe('object');
    const byName = Object.fromEntries(tools.map((x) => [x.name, x]));
    expect(byName.board!.annotations?.readOnlyHint).toBe(true);
    expect(byName.cancel!.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
    });
    expect(byName.file_tickets!.inputSchema.required).toEqual(['batch', 'tickets']);
  });

  it('files a dependent batch in one call, journaled with the MCP actor', async () => {
    const filed = await mcp.ok('file_tickets', {
      batch: 'login',
      tickets: [
        {
          name: 'ui',
          repo: 'web',
          title: 'Login form',
          dependsOn: ['api'],
          allowedFiles: ['src/form.ts'],
        },
        { name: 'api', repo: 'app', title: 'POST /login', body: 'Return 200 for good passwords.' },
      ],
    });
    expect(filed).toMatchObject({ schemaVersion: 1, batch: 'login', batchCreated: true });
    // Filed dependencies first, whatever the order given.
    expect(filed.tickets).toEqual([
      {
        name: 'api',
        key: 'app-1',
        repo: 'app',
        title: 'POST /login',
        state: 'QUEUED',
        dependsOn: [],
      },
      {
        name: 'ui',
        key: 'web-1',
        repo: 'web',
        title: 'Login form',
        state: 'QUEUED',
        dependsOn: ['app-1'],
      },
    ]);
    const ui = await getTicket(t.db, 'web-1');
    expect(ui.body).toContain('## Allowed files\n\n- `src/form.ts`');
    const journal = await readJournal(t.db, ui.id);
    expect(journal.map((r) => [r.event_type, r.actor])).toEqual([['CREATED', ACTOR]]);
    const shown = await mcp.ok('show_ticket', { ticket: 'web-1' });
    expect(shown.dependencies).toEqual([{ key: 'app-1', state: 'QUEUED' }]);
    expect(shown.ticket).toMatchObject({ key: 'web-1', batch: 'login', state: 'QUEUED' });
    expect(shown.plan).toBeNull();
    expect(shown.timeline[0]).toMatchObject({ seq: 1, event: 'CREATED', actor: ACTOR });

    const again = await mcp.ok('file_tickets', {
      batch: 'login',
      tickets: [
        { name: 'docs', repo: 'app', title: 'Document login', dependsOnTickets: ['web-1'] },
      ],
    });
    expect(again.batchCreated).toBe(false);
    expect(again.tickets[0]).toMatchObject({ key: 'app-2', dependsOn: ['web-1'] });
  });

  it('refuses bad batches with one line and stores nothing', async () => {
    const one = (extra: Record<string, unknown>) => ({
      batch: 'bad',
      tickets: [
        { name: 'a', repo: 'app', title: 'A' },
        { name: 'b', repo: 'app', title: 'B', ...extra },
      ],
    });
    await refusedWithoutChange(
      'file_tickets',
      one({ repo: 'nope' }),
      /ticket "b": unknown repo: nope/,
    );
    await refusedWithoutChange(
      'file_tickets',
      {
        batch: 'bad',
        tickets: [
          { name: 'a', repo: 'app', title: 'A', dependsOn: ['c'] },
          { name: 'b', repo: 'app', title: 'B', dependsOn: ['a'] },
          { name: 'c', repo: 'app', title: 'C', dependsOn: ['b'] },
        ],
      },
      /dependency cycle: a -> c -> b -> a/,
    );
    await refusedWithoutChange(
      'file_tickets',
      one({ dependsOn: ['b'] }),
      /dependency cycle: b -> b/,
    );
    await refusedWithoutChange(
      'file_tickets',
      one({ dependsOn: ['zz'] }),
      /unknown local name "zz"/,
    );
    await refusedWithoutChange('file_tickets', one({ name: 'a' }), /duplicate local name: a/);
    await refusedWithoutChange(
      'file_tickets',
      one({ body: 'x'.repeat(MAX_BODY_BYTES + 1) }),
      /tickets\[1\]\.body: is larger than 256 KiB/,
    );
    // 256 KiB of text plus an allowed-files list still has to fit.
    await refusedWithoutChange(
      'file_tickets',
      one({ body: 'x'.repeat(MAX_BODY_BYTES - 10), allowedFiles: ['src/**'] }),
      /larger than 256 KiB/,
    );
    await refusedWithoutChange('file_tickets', one({ title: 'A\u0000B' }), /NUL/);
    await refusedWithoutChange(
      'file_tickets',
      one({ dependsOnTickets: ['app-999'] }),
      /unknown ticket: app-999/,
    );
    await refusedWithoutChange('file_tickets', { batch: 'bad', tickets: [] }, /tickets: /);
    await refusedWithoutChange(
      'file_tickets',
      { batch: 'bad', tickets: [{ name: 'a', repo: 'app' }] },
      /tickets\[0\]\.title/,
    );
    await refusedWithoutChange('file_tickets', { ...one({}), extra: 1 }, /Unrecognized key/);
  });

  it('answers board, status and show_ticket with structured content and text', async () => {
    const board = await mcp.call('board');
    expect(board.structuredContent).toMatchObject({
      schemaVersion: 1,
      total: 3,
      totals: { QUEUED: 3 },
      needsPerson: [],
    });
    expect((board.content as { text: string }[])[0]!.text).toMatch(/^app: QUEUED 2$/m);
    const status = await mcp.ok('status', { repo: 'app', state: 'queued' });
    expect(status.tickets.map((x: { key: string }) => x.key)).toEqual(['app-1', 'app-2']);
    expect((await mcp.ok('status', { batch: 'login' })).total).toBe(3);
    await refusedWithoutChange('status', { repo: 'nope' }, /^status: unknown repo: nope$/);
    await refusedWithoutChange('status', { batch: 'nope' }, /^status: unknown batch: nope$/);
    await refusedWithoutChange('status', { state: 'DONE' }, /^status: state: /);
    await refusedWithoutChange(
      'show_ticket',
      { ticket: 'app-404' },
      /^show_ticket: unknown ticket: app-404$/,
    );
    await refusedWithoutChange('nope_tool', {}, /unknown tool: nope_tool/);
  });

  it("journals operator actions as the MCP actor, refuses what the state can't take", async () => {
    const line = await mcp.fails('approve', { ticket: 'app-2' });
    expect(line).toMatch(/^approve: app-2 \(QUEUED\): /);
    await refusedWithoutChange('retry', { ticket: 'app-404' }, /unknown ticket: app-404/);
    await refusedWithoutChange(
      'cancel',
      { ticket: 'app-2', reason: '  ' },
      /reason: must not be empty/,
    );
    const cancelled = await mcp.ok('cancel', { ticket: 'app-2', reason: 'not needed' });
    expect(cancelled).toMatchObject({ status: 'applied', ticket: 'app-2', toState: 'CANCELLED' });
    const ticket = await getTicket(t.db, 'app-2');
    const journal = await readJournal(t.db, ticket.id);
    expect(journal.at(-1)).toMatchObject({ event_type: 'CANCEL', actor: ACTOR });
    const replayed = await mcp.call('replay', { ticket: 'app-1' });
    expect(replayed.isError).toBeFalsy();
    expect(replayed.structuredContent).toMatchObject({ dispatched: expect.any(Boolean) });
    await refusedWithoutChange(
      'replay',
      { ticket: 'app-1', reason: 'x' },
      /reason applies only with fromSeq/,
    );
    await refusedWithoutChange('replay', { ticket: 'app-1', fromSeq: 0 }, /fromSeq/);
  });

  it('logs refuses a ticket without runs and an unknown ticket', async () => {
    await refusedWithoutChange('logs', { ticket: 'app-1' }, /app-1 has no agent runs yet/);
    await refusedWithoutChange('logs', { ticket: 'zzz-1' }, /unknown ticket: zzz-1/);
    await refusedWithoutChange('logs', { ticket: 'app-1', run: '../etc' }, /run: must be a run id/);
    await refusedWithoutChange('logs', { ticket: 'app-1', maxBytes: 10_000_000 }, /maxBytes/);
  });

  it('oracle says what is missing, and names an unknown batch', async () => {
    const result = await mcp.ok('oracle', { batch: 'login' });
    expect(result).toMatchObject({ batch: 'login', done: false, missing: ['app-1', 'web-1'] });
    expect(result.tickets.find((x: { key: string }) => x.key === 'app-2')).toMatchObject({
      verdict: 'human-gated',
      why: [`cancelled by ${ACTOR}`],
    });
    await refusedWithoutChange('oracle', { batch: 'nope' }, /^oracle: unknown batch: nope$/);
  });

  it('serves plan and timeline resources', async () => {
    const { resourceTemplates } = await mcp.client.listResourceTemplates();
    expect(resourceTemplates.map((r) => r.uriTemplate)).toEqual([
      'loopwright://ticket/{key}/plan',
      'loopwright://ticket/{key}/timeline',
    ]);
    const { resources } = await mcp.client.listResources();
    expect(resources.map((r) => r.uri)).toContain('loopwright://ticket/web-1/timeline');
    const timeline = await mcp.client.readResource({ uri: 'loopwright://ticket/app-2/timeline' });
    const doc = JSON.parse((timeline.contents[0] as { text: string }).text);
    expect(doc.timeline.map((r: { event: string; actor: string }) => [r.event, r.actor])).toEqual([
      ['CREATED', ACTOR],
      ['CANCEL', ACTOR],
    ]);
    const plan = await mcp.client.readResource({ uri: 'loopwright://ticket/app-1/plan' });
    expect(JSON.parse((plan.contents[0] as { text: string }).text)).toEqual({
      schemaVersion: 1,
      ticket: 'app-1',
      plan: null,
    });
    await expect(
      mcp.client.readResource({ uri: 'loopwright://ticket/app-404/plan' }),
    ).rejects.toThrow(/unknown ticket: app-404/);
    await expect(mcp.client.readResource({ uri: 'file:///etc/passwd' })).rejects.toThrow(
      /unknown resource/,
    );
  });

  it('never returns the database URL or a secret from its environment', async () => {
    const outputs = [];
    for (const [tool, args] of [
      ['board', {}],
      ['status', {}],
      ['show_ticket', { ticket: 'web-1' }],
      ['oracle', { batch: 'login' }],
    ] as const)
      outputs.push(JSON.stringify(await mcp.call(tool, args)));
    const all = outputs.join('\n');
    expect(all).not.toContain(t.url);
    expect(all).not.toContain('sk-ant-secret-value-123');
    expect(all).not.toContain(home);
  });
});

describe('loopwright mcp without a reachable database', () => {
  it('answers a tool error without the URL or its password', async () => {
    const session = await connectMcp({
      LOOPWRIGHT_DATABASE_URL: 'postgres://lw:hunter2-secret@127.0.0.1:1/nowhere',
      LOOPWRIGHT_HOME: home,
      PATH: process.env.PATH!,
      HOME: process.env.HOME!,
    });
    try {
      const line = await session.fails('board');
      expect(line).toMatch(/^board: /);
      expect(line).not.toContain('hunter2');
      expect(line).not.toContain('postgres://');
    } finally {
      await session.close();
    }
  }, 30_000);
});
