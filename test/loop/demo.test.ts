/**
 * `loopwright demo --json`, in process: the real demo path (sample repo, scripted agents, the
 * factory until idle) ships all three tickets, the gates' own evidence backs every one of them,
 * and the answer validates against docs/json-schema/demo.schema.json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoResult } from '../../src/demo/run-demo.js';
import { verifyJournal } from '../../src/engine/verify-journal.js';
import { git, isMergedInto, runGit } from '../../src/workspace/index.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { gateResults, outcomeOf } from '../helpers/loop-harness.js';
import { cliEnv, runCli } from '../cli/helpers.js';
import { validateContract } from '../cli/json-schema.js';

let t: TestDb;
let home: string;
let demo: DemoResult;

beforeAll(async () => {
  t = await createTestDb(8);
  home = await mkdtemp(path.join(os.tmpdir(), 'lw-demo-'));
  const env = cliEnv(t, { LOOPWRIGHT_HOME: home, LOOPWRIGHT_LOG_LEVEL: 'silent' });
  const result = await runCli(t, ['demo', '--json'], { env });
  expect(result.code, result.stderr).toBe(0);
  const doc = JSON.parse(result.stdout) as DemoResult & { schemaVersion: number };
  // The answer follows its documented schema (test/cli/json-schema.test.ts lists demo here).
  expect(validateContract('demo', doc)).toEqual([]);
  demo = doc;
}, 120_000);

afterAll(async () => {
  await t?.drop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('loopwright demo', () => {
  it('ships all three tickets LIVE, each through RED and BUILD', () => {
    expect(demo.tickets.map((tk) => [tk.key, tk.state])).toEqual([
      ['demo-1', 'LIVE'],
      ['demo-2', 'LIVE'],
      ['demo-3', 'LIVE'],
    ]);
    for (const tk of demo.tickets) {
      expect(tk.path).toEqual(
        expect.arrayContaining([
          'RED',
          'BUILD',
          'VALIDATE',
          'SHIP.merging',
          'SHIP.verifying',
          'LIVE',
        ]),
      );
      expect(tk.path.indexOf('RED')).toBeLessThan(tk.path.indexOf('BUILD'));
    }
    // Ticket 2 negotiated its plan; ticket 3's first build was rejected by the validator.
    expect(demo.tickets[1]!.path).toContain('PLAN_NEGOTIATE.revise');
    expect(demo.tickets[2]!.path.filter((s) => s === 'BUILD')).toHaveLength(2);
  });

  it(
    "leaves every merge on main, with each ticket's RED and build commits, " +
      'dependencies merged first',
    async () => {
      const log = await git(demo.repoPath, ['log', '--format=%H %s', 'main']);
      for (const tk of demo.tickets) {
        expect(tk.mergeCommit).toMatch(/^[0-9a-f]{40}$/);
        expect(log).toContain(tk.mergeCommit!);
        expect(await isMergedInto(demo.repoPath, tk.mergeCommit!, 'main')).toBe(true);
        expect(log).toContain(` loopwright(${tk.key}): failing tests (RED)`);
        expect(log).toMatch(new RegExp(` loopwright\\(${tk.key}\\): build attempt \\d`));
      }
      // Ticket 2 depends on ticket 1: ticket 1's merge is part of what ticket 2 merged onto.
      const ancestry = await runGit(
        demo.repoPath,
        [
          'merge-base',
          '--is-ancestor',
          demo.tickets[0]!.mergeCommit!,
          demo.tickets[1]!.mergeCommit!,
        ],
        { okExitCodes: [0, 1] },
      );
      expect(ancestry.exitCode).toBe(0);
    },
  );

  it(
    "has the gates' evidence: RED ran the tests and they FAILED, GREEN and LIVE ran " +
      'them and they PASSED',
    async () => {
      for (const tk of demo.tickets) {
        const o = await outcomeOf(t, tk.key);
        const red = await gateResults(o, 'RED');
        const green = await gateResults(o, 'GREEN');
        const live = await gateResults(o, 'LIVE');
        expect(red.length).toBeGreaterThanOrEqual(1);
        expect(red.every((g) => g.command === 'node --test' && !g.passed && g.exitCode !== 0)).toBe(
          true,
        );
        expect(green.length).toBeGreaterThanOrEqual(1);
        expect(
          green.every((g) => g.command === 'node --test' && g.passed && g.exitCode === 0),
        ).toBe(true);
        expect(live).toMatchObject([{ command: 'node scripts/live-check.mjs', passed: true }]);
        expect(o.context.liveEvidence).toMatch(new RegExp(`^${o.context.mergeCommit}: live check`));
      }
      expect((await verifyJournal(t.db)).mismatches).toEqual([]);
    },
  );
});
