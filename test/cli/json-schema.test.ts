/**
 * Every command whose usage offers `--json` has its answer documented by a JSON Schema in
 * docs/json-schema/<command>.schema.json, and every one of them is run here (the list comes from
 * the command registry, so a new `--json` command without a schema or an invocation fails) and
 * its output validated against that schema. Errors under --json are the error document.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/registry.js';
import { getTicket } from '../../src/db/tickets.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { type LinearTwin, startLinearTwin } from '../twins/linear-twin.js';
import {
  cliEnv,
  driveToShip,
  makeGitRepo,
  removeTempDirs,
  runCli,
  send,
  tempDir,
} from './helpers.js';
import { JSON_SCHEMA_DIR, validateContract } from './json-schema.js';

let t: TestDb;
let empty: TestDb;
let linear: LinearTwin;
let env: NodeJS.ProcessEnv;

/** Commands whose `--json` answer is validated in another test file (too slow to repeat here). */
const ELSEWHERE: Record<string, string> = { demo: 'test/loop/demo.test.ts' };

/** What each `--json` command is run with (several lines for subcommands). */
const INVOCATIONS: Record<string, readonly (readonly string[])[]> = {
  status: [['status']],
  show: [['show', 'app-1']],
  repo: [
    ['repo', 'add', '@extra', '--name', 'extra', '--test-cmd', 'true'],
    ['repo', 'set', 'extra', '--concurrency', '3'],
    ['repo', 'show', 'app'],
    ['repo', 'list'],
    ['repo', 'remove', 'extra'],
  ],
  ticket: [
    ['ticket', 'add', '--repo', 'app', '--title', 'Three'],
    ['ticket', 'list'],
    ['ticket', 'depend', 'app-3', '--on', 'app-1'],
  ],
  oracle: [['oracle', '--batch', 'b1']],
  stats: [['stats'], ['stats', '--batch', 'b1']],
  linear: [['linear', 'import', '--team', 'ENG', '--repo', 'app', '--dry-run']],
  batch: [
    ['batch', 'create', 'b2'],
    ['batch', 'list'],
    ['batch', 'show', 'b1'],
    ['batch', 'repin', 'b1', '--reason', 'checks changed'],
  ],
  approve: [['approve', 'co-1']],
  retry: [['retry', '@escalated', '--reason', 'flaky']],
  reject: [['reject', '@escalated']],
  cancel: [['cancel', 'app-2', '--reason', 'not needed']],
  note: [['note', 'app-1', 'hello']],
  logs: [['logs', 'app-1']],
  sql: [['sql', 'select 1 as one, now() as at']],
  doctor: [['doctor']],
  replay: [['replay', 'app-1']],
  'verify-journal': [['verify-journal'], ['verify-journal', 'app-1']],
  db: [
    ['db', 'status'],
    ['db', 'url'],
  ],
  gc: [['gc', '--dry-run']],
  migrate: [['migrate']],
  run: [['run', '--until-idle', '--no-console']],
  mcp: [['mcp', 'install', '--client', 'claude']],
  help: [['help'], ['help', 'repo']],
};

/** Commands run against an empty database of their own (run would start the tickets' agents). */
const ON_EMPTY = new Set(['run']);

beforeAll(async () => {
  t = await createTestDb(4);
  empty = await createTestDb(8);
  linear = await startLinearTwin({ apiKey: 'lin_test_key', teams: ['ENG'] });
  linear.addIssue({ title: 'Imported from Linear', teamKey: 'ENG' });
  const home = tempDir('lw-schema-');
  mkdirSync(path.join(home, '.claude'), { recursive: true });
  env = cliEnv(t, {
    HOME: home,
    LOOPWRIGHT_HOME: path.join(home, 'lw'),
    LINEAR_API_KEY: 'lin_test_key',
    LINEAR_API_URL: linear.url,
    LOOPWRIGHT_LOG_LEVEL: 'silent',
  });
  const ok = async (argv: string[]) => {
    const result = await runCli(t, argv, { env });
    expect(result.code, result.stderr).toBe(0);
  };
  await ok(['repo', 'add', makeGitRepo('app'), '--sandbox', 'none']);
  await ok(['repo', 'add', makeGitRepo('co'), '--mode', 'copilot', '--sandbox', 'none']);
  await ok(['batch', 'create', 'b1']);
  await ok(['ticket', 'add', '--repo', 'app', '--title', 'One', '--batch', 'b1']);
  await ok(['ticket', 'add', '--repo', 'app', '--title', 'Two', '--depends-on', 'app-1']);
  await ok(['ticket', 'add', '--repo', 'co', '--title', 'Copilot']);
  await send(t.db, 'app-1', { type: 'START' });
  await driveToShip(t.db, 'co-1');
}, 120_000);

afterAll(async () => {
  await t?.drop();
  await empty?.drop();
  await linear?.close();
  removeTempDirs();
});

/** A ticket escalated by a timed-out agent, its job removed as a finished worker would. */
async function escalatedTicket(): Promise<string> {
  const filed = await runCli(t, ['ticket', 'add', '--repo', 'app', '--title', 'Stuck'], { env });
  const key = filed.stdout.trim();
  await send(t.db, key, { type: 'START' });
  await send(t.db, key, { type: 'AGENT_TIMEOUT' });
  const { id } = await getTicket(t.db, key);
  await sql`delete from graphile_worker._private_jobs where key like ${`lw:${id}:%`}`.execute(t.db);
  return key;
}

async function argvOf(argv: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of argv)
    out.push(
      arg === '@extra'
        ? makeGitRepo('extra')
        : arg === '@escalated'
          ? await escalatedTicket()
          : arg,
    );
  return out;
}

describe('the JSON schema of every --json command', () => {
  it('lists each registry command whose usage offers --json, and has its schema', async () => {
    const offering: string[] = [];
    for (const entry of COMMANDS)
      if (/\[--json[\] |]/.test((await entry.load()).usage)) offering.push(entry.name);
    expect(offering.length).toBeGreaterThan(20);
    for (const [name, file] of Object.entries(ELSEWHERE))
      expect(readFileSync(file, 'utf8'), file).toContain(`validateContract('${name}'`);
    for (const name of offering) {
      expect(
        INVOCATIONS[name] ?? ELSEWHERE[name],
        `${name}: add an invocation to this test`,
      ).toBeDefined();
      expect(existsSync(path.join(JSON_SCHEMA_DIR, `${name}.schema.json`)), name).toBe(true);
    }
    // And no schema for a command that is gone.
    const schemas = readdirSync(JSON_SCHEMA_DIR).map((f) => f.replace(/\.schema\.json$/, ''));
    const shared = ['error', 'operator-event'];
    expect(schemas.filter((s) => !offering.includes(s) && !shared.includes(s))).toEqual([]);
  });

  it.each(Object.keys(INVOCATIONS))(
    '%s',
    async (name) => {
      for (const argv of INVOCATIONS[name]!) {
        const db = ON_EMPTY.has(name) ? empty : t;
        const runEnv = ON_EMPTY.has(name) ? { ...env, LOOPWRIGHT_DATABASE_URL: empty.url } : env;
        const result = await runCli(db, [...(await argvOf(argv)), '--json'], { env: runEnv });
        // 1: doctor found a blocker; 3: the batch is not done; 4: something waits for a person.
        expect([0, 1, 3, 4], `${argv.join(' ')}: ${result.stderr}`).toContain(result.code);
        expect(result.stderr, argv.join(' ')).not.toMatch(/"error"/);
        const doc = JSON.parse(result.stdout) as Record<string, unknown>;
        expect(Object.keys(doc)[0]).toBe('schemaVersion');
        expect(validateContract(name, doc), argv.join(' ')).toEqual([]);
      }
    },
    120_000,
  );

  it('refuses a document that breaks its schema', () => {
    expect(validateContract('status', { schemaVersion: 2, total: '3' })).toEqual(
      expect.arrayContaining([
        '/schemaVersion: must be equal to constant',
        "/: must have required property 'repos'",
      ]),
    );
    expect(
      validateContract('approve', { schemaVersion: 1, status: 'applied', ticket: 'app-1' }),
    ).not.toEqual([]);
  });

  it.each([
    [['show', 'nope-1'], 'NOT_FOUND'],
    [['ticket', 'list', '--state', 'NOPE'], 'BAD_INPUT'],
    [['run', '--log-level', 'loud'], 'BAD_INPUT'],
    [['frobnicate'], 'BAD_INPUT'],
  ])('error %s is the error document on stderr, exit 2', async (argv, code) => {
    const result = await runCli(t, [...argv, '--json'], { env });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const doc = JSON.parse(result.stderr) as Record<string, unknown>;
    expect(doc).toMatchObject({ schemaVersion: 1, error: { code } });
    expect(validateContract('error', doc)).toEqual([]);
  });
});
