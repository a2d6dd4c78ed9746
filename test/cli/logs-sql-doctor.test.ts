/**
 * `loopwright logs`, `sql` and `doctor` in-process against a test database; every `--json`
 * answer follows the contract (schemaVersion 1, camelCase).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTicket } from '../../src/db/tickets.js';
import type { TestDb } from '../helpers/db.js';
import {
  cliDb,
  cliEnv,
  dropCliDb,
  dumpState,
  expectBadInput,
  parseContract,
  runCli,
  runJson,
  send,
  tempDir,
} from './helpers.js';

let t: TestDb;
const home = tempDir('lw-logs-home-');
const env = () => ({ ...cliEnv(t), LOOPWRIGHT_HOME: home });

beforeAll(async () => {
  t = await cliDb(['app', '--sandbox', 'none']);
  expect((await runCli(t, ['ticket', 'add', '--repo', 'app', '--title', 'Logs'])).code).toBe(0);
});
afterAll(() => dropCliDb(t));

describe('loopwright logs', () => {
  it('renders a claude transcript readably and gives the raw lines with --json', async () => {
    await send(t.db, 'app-1', { type: 'START' });
    const ticket = await getTicket(t.db, 'app-1');
    const file = path.join(home, 'runs', 'app-1', `${ticket.current_run_id}.jsonl`);
    mkdirSync(path.dirname(file), { recursive: true });
    const lines = [
      { type: 'system', subtype: 'init', model: 'opus', cwd: '/w' },
      { type: 'assistant', message: { content: [{ type: 'text', text: 'Planning now' }] } },
      {
        type: 'assistant',
        message: {
          content: [{ type: 'tool_use', name: 'Write', input: { file_path: 'plan.json' } }],
        },
      },
      { type: 'user', message: { content: [{ type: 'tool_result', content: 'x'.repeat(2000) }] } },
      { type: 'result', subtype: 'success', is_error: false, num_turns: 3, total_cost_usd: 0.0123 },
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\nplain output\n`);
    await sql`update loopwright.agent_runs set transcript_path = ${file}
      where id = ${ticket.current_run_id}`.execute(t.db);
    const result = await runCli(t, ['logs', 'app-1'], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('[session] model opus in /w');
    expect(result.stdout).toContain('assistant: Planning now');
    expect(result.stdout).toContain('tool Write: {"file_path":"plan.json"}');
    expect(result.stdout).toMatch(/ {2}-> x{300,}…\n/);
    expect(result.stdout).toContain('[result] ok 3 turns cost $0.0123');
    expect(result.stdout).toContain('plain output');
    const json = await runJson(t, ['logs', 'app-1'], { env: env() });
    expect(json.transcript.lines).toHaveLength(6);
    expect(json.run).toMatchObject({ id: ticket.current_run_id, role: 'lead' });
  });

  it('refuses an unknown run or ticket', async () => {
    expectBadInput(
      await runCli(t, ['logs', 'app-1', '--run', 'nope'], { env: env() }),
      'unknown run for app-1: nope',
    );
    expectBadInput(await runCli(t, ['logs', 'app-9'], { env: env() }), 'unknown ticket: app-9');
  });
});

describe('loopwright sql', () => {
  it('prints a table with search_path loopwright, and JSON rows', async () => {
    const result = await runCli(t, ['sql', 'select key, state from tickets order by key']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^key +state\napp-1 +PLAN_DRAFT\n$/);
    expect(await runJson(t, ['sql', 'select count(*)::int as n from v_board'])).toMatchObject({
      columns: ['n'],
      rowCount: 1,
    });
  });

  it('an SQL error is exit 1 with the server message, nothing changed', async () => {
    const before = await dumpState(t.db);
    const bad = await runCli(t, ['sql', 'delete from nope_table']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^loopwright: sql: relation "nope_table" does not exist/);
    const json = await runCli(t, ['sql', 'selec 1', '--json']);
    expect(JSON.parse(json.stderr)).toMatchObject({
      schemaVersion: 1,
      error: { code: 'SQL_ERROR' },
    });
    expectBadInput(await runCli(t, ['sql', '  ']), 'must not be empty');
    expect(await dumpState(t.db)).toEqual(before);
  });
});

describe('loopwright doctor', () => {
  it('names missing agent credentials first with the fix, and exits 1', async () => {
    const bare = tempDir('lw-doctor-');
    const e: NodeJS.ProcessEnv = { ...env(), HOME: bare };
    delete e.ANTHROPIC_API_KEY;
    delete e.OPENAI_API_KEY;
    const result = await runCli(t, ['doctor'], { env: e });
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n')[0]).toMatch(
      /^FAIL +agents app: lead uses claude: set ANTHROPIC_API_KEY or run `claude login`/,
    );
    expect(result.stdout).toMatch(/^OK +git: git \d+\.\d+/m);
    expect(result.stdout).toMatch(/^OK +database: reachable/m);
    const json = await runCli(t, ['doctor', '--json'], { env: e });
    const doc = parseContract(json.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.checks).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'git', status: 'ok' })]),
    );
  }, 60_000);

  it('passes when every agent has credentials', async () => {
    const result = await runCli(t, ['doctor', '--json'], { env: env() });
    const doc = parseContract(result.stdout);
    const failing = (doc.checks as { status: string; name: string; detail: string }[]).filter(
      (c) => c.status === 'fail',
    );
    expect(failing.filter((c) => c.name !== 'sandbox')).toEqual([]);
  }, 60_000);

  it('a database that cannot be reached is a blocker', async () => {
    const result = await runCli(t, ['doctor'], {
      env: { ...env(), LOOPWRIGHT_DATABASE_URL: 'postgres://lw:secret@127.0.0.1:1/none' },
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL +database: /m);
    expect(result.stdout).not.toContain('secret');
  }, 60_000);
});
