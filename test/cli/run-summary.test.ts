/**
 * `loopwright run --until-idle` on a mixed outcome, in-process on the real factory: one ticket
 * goes LIVE (scripted agents), one copilot ticket waits for approval, and one ticket whose
 * default agents (claude, codex) have no key and no login escalates AGENT_UNAVAILABLE with the
 * fix. The run prints a line per phase change, a summary with the exact commands, and exits 4.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTicket } from '../../src/db/tickets.js';
import { demoScript, SLUGIFY } from '../../src/demo/playbook.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { type ScriptedRepo, scriptedRepo } from '../helpers/scripted-repo.js';
import { cliEnv, makeGitRepo, removeTempDirs, runCli, tempDir } from './helpers.js';

let t: TestDb;
let dark: ScriptedRepo;
let cop: ScriptedRepo;

beforeAll(async () => {
  t = await createTestDb(4);
  dark = await scriptedRepo(t, 'web', demoScript(), { sandbox: 'none' });
  cop = await scriptedRepo(t, 'cop', demoScript(), { sandbox: 'none' });
});
afterAll(async () => {
  await t?.drop();
  await dark?.cleanup();
  await cop?.cleanup();
  removeTempDirs();
});

describe('run --until-idle summary', () => {
  it('prints progress and a summary naming what each waiting ticket ' +
    'needs, and exits 4', async () => {
    const home = tempDir('lw-nokeys-');
    mkdirSync(path.join(home, '.codex'));
    // No ANTHROPIC_API_KEY/OPENAI_API_KEY, a HOME with no logins: the default agents cannot work.
    const env: NodeJS.ProcessEnv = {
      ...cliEnv(t),
      HOME: home,
      LOOPWRIGHT_HOME: path.join(home, 'lw'),
    };
    delete env.ANTHROPIC_API_KEY;
    delete env.OPENAI_API_KEY;
    expect(
      (
        await runCli(t, ['repo', 'add', makeGitRepo('plain'), '--sandbox', 'none', '--json'], {
          env,
        })
      ).code,
    ).toBe(0);
    expect((await runCli(t, ['repo', 'set', 'cop', '--mode', 'copilot'], { env })).code).toBe(0);
    for (const [repo, title] of [
      ['web', SLUGIFY.title],
      ['cop', SLUGIFY.title],
      ['plain', 'Add a health endpoint'],
    ])
      expect(
        (await runCli(t, ['ticket', 'add', '--repo', repo!, '--title', title!], { env })).code,
      ).toBe(0);

    const started = Date.now();
    const result = await runCli(t, ['run', '--until-idle', '--no-console', '--concurrency', '3'], {
      env: { ...env, LOOPWRIGHT_LOG_LEVEL: 'silent' },
    });
    expect(Date.now() - started).toBeLessThan(180_000);
    expect(result.code, result.stdout + result.stderr).toBe(4);
    expect((await getTicket(t.db, 'web-1')).state).toBe('LIVE');
    const plain = await getTicket(t.db, 'plain-1');
    expect(plain.state).toBe('ESCALATED');
    expect(plain.snapshot.context).toMatchObject({ reason: 'AGENT_UNAVAILABLE' });
    expect(plain.snapshot.context.detail).toMatch(
      /^lead uses claude: set ANTHROPIC_API_KEY or run `claude login`/,
    );

    const out = result.stdout;
    expect(out).toMatch(/^\d\d:\d\d:\d\d web-1 QUEUED -> PLAN_DRAFT \(START, /m);
    expect(out).toMatch(
      new RegExp(
        '^\\d\\d:\\d\\d:\\d\\d web-1 PLAN_DRAFT -> PLAN_NEGOTIATE\\.critique ' +
          '\\(PLAN_READY, lead scripted, run [0-9a-f]{8}\\)$',
        'm',
      ),
    );
    expect(out).toMatch(/^\d\d:\d\d:\d\d plain-1 PLAN_DRAFT -> ESCALATED AGENT_UNAVAILABLE /m);
    expect(out).toMatch(/^idle: no ticket can move$/m);
    expect(out).toMatch(/^summary: 1 LIVE, 2 ESCALATED|^summary: 1 LIVE, 1 ESCALATED, 1 SHIP$/m);
    expect(out).toContain('  cop-1  SHIP.awaiting_approval\n    do:  loopwright approve cop-1');
    expect(out).toMatch(
      new RegExp(
        ' {2}plain-1 {2}ESCALATED {2}AGENT_UNAVAILABLE\\n {4}why: lead uses claude: ' +
          'set ANTHROPIC_API_KEY or run `claude login`',
      ),
    );
    expect(out).toContain(
      'do:  fix the agent setup (loopwright doctor), then loopwright retry plain-1',
    );

    const json = await runCli(t, ['run', '--until-idle', '--no-console', '--json'], {
      env: { ...env, LOOPWRIGHT_LOG_LEVEL: 'silent' },
    });
    expect(json.code).toBe(4);
    const doc = JSON.parse(json.stdout);
    expect(doc).toMatchObject({
      schemaVersion: 1,
      stopped: 'idle',
      summary: { live: 1, needsPerson: true },
    });
    expect(doc.summary.waiting.map((w: { key: string }) => w.key)).toEqual(['cop-1', 'plain-1']);
  }, 240_000);
});
