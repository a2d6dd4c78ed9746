/**
 * The real process: exit codes reach the shell and nothing (a pool, a timer) keeps it alive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { runNode } from './helpers.js';

let t: TestDb;

beforeAll(async () => {
  t = await createTestDb(2);
});
afterAll(() => t?.drop());

/** `node --import tsx src/cli/entry.ts ...args`, killed if it has not exited after 30 s. */
const runEntry = (args: readonly string[], env: NodeJS.ProcessEnv) =>
  runNode(['src/cli/entry.ts', ...args], env);

describe('the loopwright process', () => {
  const env = () => ({
    LOOPWRIGHT_DATABASE_URL: t.url,
    LOOPWRIGHT_ACTOR: 'tester',
    PATH: process.env.PATH,
    HOME: process.env.HOME,
  });

  it('prints help and exits 0', async () => {
    const result = await runEntry(['--help'], env());
    expect(result).toMatchObject({ code: 0, killed: false, stderr: '' });
    expect(result.stdout).toMatch(/^usage: loopwright <command>/m);
    expect(result.stdout).toMatch(/^ {2}verify-journal +replay journals/m);
  });

  it('exits 0 after using the database, without hanging on open connections', async () => {
    const result = await runEntry(['status', '--json'], env());
    expect(result).toMatchObject({ code: 0, killed: false, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual({
      schemaVersion: 1,
      repos: [],
      totals: {},
      total: 0,
      waiting: [],
      shipModes: [],
      disk: expect.objectContaining({ bytes: expect.any(Number) }),
    });
  });

  it('exits 2 with one line for bad input', async () => {
    expect(await runEntry(['ticket', 'list', '--state', 'NOPE'], env())).toMatchObject({
      code: 2,
      killed: false,
      stdout: '',
      stderr: expect.stringMatching(
        /^loopwright: unknown state: NOPE \(expected one of: [^\n]+\)\n$/,
      ),
    });
    expect(await runEntry(['frobnicate'], env())).toMatchObject({
      code: 2,
      stderr: 'loopwright: unknown command: frobnicate (see: loopwright help)\n',
    });
  });

  it('exits 1 with one line when the database cannot be reached', async () => {
    const result = await runEntry(['status'], {
      ...env(),
      LOOPWRIGHT_DATABASE_URL: 'postgres://lw@127.0.0.1:1/none',
    });
    expect(result).toMatchObject({ code: 1, killed: false, stdout: '' });
    expect(result.stderr).toMatch(
      new RegExp(
        '^loopwright: database unavailable: [^\\n]+ ' +
          '\\(cannot use the database from LOOPWRIGHT_DATABASE_URL\\)\\n$',
      ),
    );
  });
});
