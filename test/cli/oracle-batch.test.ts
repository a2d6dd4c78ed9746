import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDb } from '../helpers/db.js';
import { cliDb, dropCliDb, dumpState, expectBadInput, runCli, runJson } from './helpers.js';

let t: TestDb;

beforeAll(async () => {
  t = await cliDb(['shop', '--name', 'shop']);
  expect((await runCli(t, ['batch', 'create', 'spring'])).code).toBe(0);
  expect(
    (
      await runCli(t, [
        'ticket',
        'add',
        '--repo',
        'shop',
        '--title',
        'Checkout',
        '--batch',
        'spring',
      ])
    ).code,
  ).toBe(0);
});
afterAll(() => dropCliDb(t));

describe('loopwright oracle, batch show|repin, stats', () => {
  it('exits 3 with what is missing while a batch is not done', async () => {
    const result = await runCli(t, ['oracle', '--batch', 'spring']);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/^batch spring: NOT DONE\n/);
    expect(result.stdout).toMatch(/shop-1 +QUEUED +missing +state is QUEUED/);
    const json = await runCli(t, ['oracle', '--batch', 'spring', '--json']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({
      batch: 'spring',
      done: false,
      tickets: [{ key: 'shop-1', verdict: 'missing' }],
    });
  });

  it('shows a batch that has not started as unpinned, with its tickets', async () => {
    const shown = await runJson(t, ['batch', 'show', 'spring']);
    expect(shown).toMatchObject({
      name: 'spring',
      status: 'open',
      pins: null,
      tickets: [{ key: 'shop-1', state: 'QUEUED' }],
      events: [],
    });
  });

  it('repins with a reason, journaling the operator', async () => {
    const repinned = await runJson(t, [
      'batch',
      'repin',
      'spring',
      '--reason',
      'first pin by hand',
    ]);
    expect(repinned).toMatchObject({ batch: 'spring', retried: [] });
    const shown = await runJson(t, ['batch', 'show', 'spring']);
    expect(shown.pins).toMatchObject({
      'gates:shop': expect.stringMatching(/^[0-9a-f]{64}$/),
      'charter:validator': expect.any(String),
    });
    expect(shown.events).toMatchObject([
      { eventType: 'REPINNED', actor: 'operator:tester', reason: 'first pin by hand' },
    ]);
  });

  it('prints stats', async () => {
    const stats = await runJson(t, ['stats', '--batch', 'spring']);
    expect(stats).toMatchObject({
      batch: 'spring',
      tickets: 1,
      interventions: [{ event: 'REPIN', count: 1 }],
    });
    expect((await runCli(t, ['stats'])).code).toBe(0);
  });

  it('refuses bad input with exit 2 and changes nothing', async () => {
    const before = await dumpState(t.db);
    expectBadInput(await runCli(t, ['oracle']), /oracle needs --batch/);
    expectBadInput(await runCli(t, ['oracle', '--batch', 'autumn']), /unknown batch: autumn/);
    expectBadInput(await runCli(t, ['batch', 'repin', 'spring']), /repin needs --reason/);
    expectBadInput(
      await runCli(t, ['batch', 'repin', 'autumn', '--reason', 'x']),
      /unknown batch: autumn/,
    );
    expectBadInput(await runCli(t, ['batch', 'show']), /missing/);
    expectBadInput(await runCli(t, ['stats', '--batch', 'autumn']), /unknown batch: autumn/);
    expect(await dumpState(t.db)).toEqual(before);
  });
});
