/**
 * Shared by the CLI tests: run `main` in-process against a test database with captured output,
 * make real git repositories in temp dirs, and dump the stored state so a test can prove that bad
 * input changed nothing.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { TicketEventInput } from '../../machines/ticket.js';
import type { Kdb } from '../../src/db/connection.js';
import { getTicket } from '../../src/db/tickets.js';
import { applyEvent } from '../../src/engine/apply-event.js';
import { main } from '../../src/cli/main.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment every in-process run gets: the test database and a fixed operator. */
export function cliEnv(t: TestDb, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    LOOPWRIGHT_DATABASE_URL: t.url,
    LOOPWRIGHT_ACTOR: 'tester',
    // Dummy keys: preflight finds credentials, so `repo add` prints no warning about them.
    ANTHROPIC_API_KEY: 'test-anthropic-key',
    OPENAI_API_KEY: 'test-openai-key',
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...extra,
  };
}

/** Run one command line in-process and capture what it printed. */
export async function runCli(
  t: TestDb,
  argv: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main([...argv], {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    env: options.env ?? cliEnv(t),
    cwd: options.cwd ?? process.cwd(),
  });
  return { code, stdout, stderr };
}

/**
 * Run and parse `--json` output, expecting success; the document must follow the JSON contract
 * (schemaVersion 1, camelCase keys). Returns it without `schemaVersion`.
 */
// biome-ignore lint/suspicious/noExplicitAny: tests index into arbitrary JSON output.
export async function runJson<T = any>(
  t: TestDb,
  argv: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<T> {
  const result = await runCli(t, [...argv, '--json'], options);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return parseContract(result.stdout) as T;
}

/**
 * Parse one `--json` document, check it against the contract, return it without `schemaVersion`.
 */
export function parseContract(stdout: string): Record<string, unknown> {
  const { schemaVersion, ...rest } = JSON.parse(stdout) as Record<string, unknown>;
  expect(schemaVersion).toBe(1);
  expect(snakeKeys(rest)).toEqual([]);
  return rest;
}

/** Every snake_case key in a JSON value (outside the contract's verbatim members). */
export function snakeKeys(value: unknown, at = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => snakeKeys(v, `${at}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, member]) => [
    ...(/^[a-z][a-z0-9]*(_[a-z0-9]+)+$/.test(key) ? [`${at}.${key}`] : []),
    ...(VERBATIM.has(key) ? [] : snakeKeys(member, `${at}.${key}`)),
  ]);
}

const VERBATIM = new Set(['content', 'payload', 'snapshot', 'env', 'context', 'pins']);

/** Assert exit 2 with exactly one `loopwright: ...` line on stderr and nothing on stdout. */
export function expectBadInput(result: CliResult, message?: string | RegExp): void {
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
  expect(result.stderr).toMatch(/^loopwright: [^\n]+\n$/);
  if (message !== undefined)
    expect(result.stderr).toMatch(
      typeof message === 'string' ? new RegExp(escapeRegExp(message)) : message,
    );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const TABLES = [
  'repositories',
  'batches',
  'tickets',
  'ticket_dependencies',
  'ticket_events',
  'rejected_events',
  'agent_runs',
  'artifacts',
] as const;

/** Every stored row of loopwright's tables plus the job queue, as one comparable value. */
export async function dumpState(db: Kdb): Promise<Record<string, unknown>> {
  const dump: Record<string, unknown> = {};
  for (const table of TABLES) {
    const { rows } = await sql<{
      rows: unknown;
    }>`select coalesce(json_agg(t order by t::text), '[]') as rows
      from ${sql.table(`loopwright.${table}`)} t`.execute(db);
    dump[table] = rows[0]!.rows;
  }
  const { rows } = await sql<{
    jobs: unknown;
  }>`select coalesce(json_agg(j.key order by j.id), '[]') as jobs
    from graphile_worker._private_jobs j`.execute(db);
  dump.jobs = rows[0]!.jobs;
  return dump;
}

/** Count `agent_run` jobs of one ticket (queued or running). */
export async function agentRunJobs(db: Kdb, ticketKey: string): Promise<number> {
  const ticket = await getTicket(db, ticketKey);
  const { rows } = await sql<{ n: string }>`
    select count(*) as n from graphile_worker._private_jobs j
    join graphile_worker._private_tasks t on t.id = j.task_id
    where t.identifier = 'agent_run' and j.key like ${`lw:${ticket.id}:%`}`.execute(db);
  return Number(rows[0]!.n);
}

const tempDirs: string[] = [];

/** A fresh temp directory, removed by {@link removeTempDirs}. */
export function tempDir(prefix = 'lw-cli-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * A real git repository in a temp dir: `git init -b <branch>` and (unless `commit: false`) one
 * commit; `branches` are created at that commit. Returns its real path.
 */
export function makeGitRepo(
  name = 'app',
  options: { branch?: string; commit?: boolean; branches?: readonly string[] } = {},
): string {
  const dir = path.join(tempDir(), name);
  mkdirSync(dir, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync(
      'git',
      ['-C', dir, '-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args],
      { stdio: 'pipe' },
    );
  git('init', '-q', '-b', options.branch ?? 'main');
  if (options.commit !== false) {
    writeFileSync(path.join(dir, 'README.md'), `# ${name}\n`);
    // A test script, so `repo add` without --test-cmd detects `npm test`.
    writeFileSync(
      path.join(dir, 'package.json'),
      `${JSON.stringify({ name: 'fixture', private: true, scripts: { test: 'node --test' } })}\n`,
    );
    git('add', 'README.md', 'package.json');
    git('commit', '-q', '-m', 'initial');
    for (const branch of options.branches ?? []) git('branch', branch);
  }
  // git reports real paths (on macOS /tmp is /private/tmp), so compare against the same.
  return realpathSync(dir);
}

/**
 * A test database with `repos` registered through `repo add`, each a name or `[name, ...flags]`
 * (a fresh git repository per name). Pair it with {@link dropCliDb} in `afterAll`.
 */
export async function cliDb(...repos: (string | readonly string[])[]): Promise<TestDb> {
  const t = await createTestDb(4);
  for (const repo of repos) {
    const [name, ...flags] = typeof repo === 'string' ? [repo] : repo;
    expect((await runCli(t, ['repo', 'add', makeGitRepo(name), ...flags])).code).toBe(0);
  }
  return t;
}

/** Drop a CLI test file's database and remove its temp dirs. */
export async function dropCliDb(t: TestDb | undefined): Promise<void> {
  await t?.drop();
  removeTempDirs();
}

/**
 * Send an event the way the worker does: carrying the ticket's current run id when it needs one.
 */
export async function send(
  db: Kdb,
  key: string,
  event: { type: TicketEventInput['type'] } & Record<string, unknown>,
) {
  const ticket = await getTicket(db, key);
  const input = {
    ...event,
    ...(ticket.current_run_id ? { runId: ticket.current_run_id } : {}),
  } as TicketEventInput;
  const outcome = await applyEvent(db, key, input, { actor: 'worker:test' });
  if (outcome.status !== 'applied')
    throw new Error(`${event.type} refused: ${JSON.stringify(outcome)}`);
  return outcome;
}

/**
 * Drive a ticket from QUEUED along the happy path to SHIP (copilot tickets stop awaiting approval).
 */
export async function driveToShip(db: Kdb, key: string): Promise<void> {
  await send(db, key, { type: 'START' });
  await send(db, key, { type: 'PLAN_READY', artifactId: 1 });
  await send(db, key, { type: 'PLAN_REVIEWED', verdict: 'APPROVE' });
  await send(db, key, { type: 'PLAN_FROZEN', artifactId: 2, sha256: 'a'.repeat(64) });
  await send(db, key, { type: 'RED_CONFIRMED' });
  await send(db, key, { type: 'BUILD_READY' });
  await send(db, key, { type: 'VERDICT', verdict: 'PASS' });
}

/** How a real process ended: its code (null after a signal), output, killed by the time limit. */
export interface ProcessExit {
  readonly code: number | null;
  readonly killed: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node --import tsx ...args` (source, not dist/) with `env`, killed after `timeoutMs`. */
export function runNode(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<ProcessExit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', ...args],
      { env, timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, killed: error?.killed ?? false, stdout, stderr });
      },
    );
  });
}
