/**
 * Every `--json` answer follows the one contract: an object with schemaVersion 1 first and no
 * snake_case key anywhere (outside verbatim data); bad input under --json is the error document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDb } from '../helpers/db.js';
import { cliDb, dropCliDb, parseContract, runCli, send } from './helpers.js';

let t: TestDb;

beforeAll(async () => {
  t = await cliDb('app');
  expect((await runCli(t, ['batch', 'create', 'b1'])).code).toBe(0);
  expect(
    (await runCli(t, ['ticket', 'add', '--repo', 'app', '--title', 'One', '--batch', 'b1'])).code,
  ).toBe(0);
  expect(
    (await runCli(t, ['ticket', 'add', '--repo', 'app', '--title', 'Two', '--depends-on', 'app-1']))
      .code,
  ).toBe(0);
  await send(t.db, 'app-1', { type: 'START' });
});
afterAll(() => dropCliDb(t));

const COMMANDS: string[][] = [
  ['status'],
  ['show', 'app-1'],
  ['ticket', 'list'],
  ['repo', 'list'],
  ['repo', 'show', 'app'],
  ['batch', 'list'],
  ['batch', 'show', 'b1'],
  ['stats'],
  ['help'],
  ['help', 'repo'],
  ['note', 'app-2', 'hello'],
  ['logs', 'app-1'],
  ['sql', 'select 1 as one'],
  ['verify-journal'],
];

describe('the JSON contract of every command', () => {
  it.each(COMMANDS)('%s', async (...argv) => {
    const result = await runCli(t, [...argv, '--json']);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout).schemaVersion).toBe(1);
    expect(Object.keys(JSON.parse(result.stdout))[0]).toBe('schemaVersion');
    parseContract(result.stdout);
  });

  it.each([
    [['show', 'nope-1'], 'NOT_FOUND'],
    [['ticket', 'list', '--state', 'NOPE'], 'BAD_INPUT'],
    [['repo', 'show'], 'BAD_INPUT'],
    [['frobnicate'], 'BAD_INPUT'],
  ])('error %s is the error document', async (argv, code) => {
    const result = await runCli(t, [...argv, '--json']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const doc = JSON.parse(result.stderr);
    expect(doc).toEqual({ schemaVersion: 1, error: { code, message: expect.any(String) } });
  });
});
