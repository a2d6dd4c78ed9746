/**
 * What a real `loopwright run` process writes to stderr: every line about a ticket carries the
 * ticket's key, the run id and the repository's name, in JSON and in pretty format;
 * graphile-worker's per-job lines are debug and dump no job rows; progress is one line per phase
 * change on stdout, or "Ticket moved" records with --log-format json. Secrets logged by path are
 * redacted in both formats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoScript, SLUGIFY } from '../../src/demo/playbook.js';
import { prettyLine } from '../../src/log/pretty.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { type ScriptedRepo, scriptedRepo } from '../helpers/scripted-repo.js';
import {
  cliEnv,
  makeGitRepo,
  type ProcessExit,
  removeTempDirs,
  runCli,
  runNode,
  tempDir,
} from './helpers.js';

let t: TestDb;
const repos: ScriptedRepo[] = [];

beforeAll(async () => {
  t = await createTestDb(4);
  for (const name of ['web', 'app'])
    repos.push(await scriptedRepo(t, name, demoScript(), { sandbox: 'none' }));
});
afterAll(async () => {
  await t?.drop();
  for (const repo of repos) await repo.cleanup();
  removeTempDirs();
});

/** stderr's lines: with --log-format json every one is a record (warnings included). */
const logLines = (stderr: string) => stderr.split('\n').filter((l) => l !== '');

describe('run logs', () => {
  let exit: ProcessExit;
  let records: Record<string, unknown>[];
  beforeAll(async () => {
    // No keys and a HOME without logins: the default agents of a third, idle repo cannot work.
    const env = cliEnv(t, { LOOPWRIGHT_HOME: repos[0]!.home, HOME: tempDir('lw-nologin-') });
    delete env.ANTHROPIC_API_KEY;
    delete env.OPENAI_API_KEY;
    const idle = await runCli(t, ['repo', 'add', makeGitRepo('idle'), '--sandbox', 'none'], {
      env,
    });
    expect(idle.code, idle.stderr).toBe(0);
    for (const repo of ['web', 'app']) {
      const filed = await runCli(t, ['ticket', 'add', '--repo', repo, '--title', SLUGIFY.title], {
        env,
      });
      expect(filed.code, filed.stderr).toBe(0);
    }
    const run = ['run', '--until-idle', '--no-console', '--log-level', 'debug'];
    exit = await runNode(['src/cli/entry.ts', ...run, '--log-format', 'json'], env, 120_000);
    expect(exit.code, exit.stdout + exit.stderr).toBe(0);
    records = logLines(exit.stderr).map((l) => JSON.parse(l) as Record<string, unknown>);
    // The start-up warning about the idle repo's agents is a record too, not a text line.
    expect(records.filter((r) => r.msg === 'Agent preflight failed')).toContainEqual(
      expect.objectContaining({
        level: 40,
        repo: 'idle',
        problem: expect.stringMatching(/claude/),
      }),
    );
  }, 180_000);

  it.each([
    ['web-1', 'web'],
    ['app-1', 'app'],
  ])('every record about %s names its key, run and repo', (key, repo) => {
    const about = records.filter((r) => JSON.stringify(r).includes(key));
    expect(about.length).toBeGreaterThan(15);
    for (const r of about) {
      expect(r, JSON.stringify(r)).toMatchObject({ ticket: key, repo });
      // Ticket work that is not a run: releasing the workspace, the scheduler's START.
      if (r.task === 'release_workspace' || r.by === 'scheduler') expect(r.run).toBeNull();
      else expect(r.run, JSON.stringify(r)).toMatch(/^[0-9a-f-]{36}$/);
    }
    // No line names a ticket by anything else (its internal id, a job payload).
    const keys = ['web-1', 'app-1'];
    expect(
      records.filter((r) => r.ticket !== undefined && !keys.includes(String(r.ticket))),
    ).toEqual([]);
    expect(exit.stderr).not.toContain('ticketId');
  });

  it("graphile-worker's per-job lines are debug and dump no job row", () => {
    const completed = records.filter((r) => /^Completed task/.test(String(r.msg)));
    expect(completed.length).toBeGreaterThanOrEqual(16);
    for (const r of completed) expect(r.level).toBe(20);
    expect(records.filter((r) => typeof r.job === 'object')).toEqual([]);
    expect(records.filter((r) => r.level === 30 && /task/i.test(String(r.msg)))).toEqual([]);
  });

  it('progress is a "Ticket moved" record per phase change, none on stdout', () => {
    const moves = records
      .filter((r) => r.msg === 'Ticket moved' && r.ticket === 'web-1')
      .map((r) => `${r.from} -> ${r.to} by ${r.by}`);
    expect(moves[0]).toBe('QUEUED -> PLAN_DRAFT by scheduler');
    expect(moves).toContain('PLAN_DRAFT -> PLAN_NEGOTIATE.critique by lead scripted');
    expect(moves.at(-1)).toBe('SHIP.verifying -> LIVE by orchestrator:live');
    expect(exit.stdout).not.toMatch(/->/);
    expect(exit.stdout).toMatch(/^summary: 2 LIVE/m);
  });

  it('the same records made pretty start with time, level, key, run and repo', () => {
    const lines = records.map((r) => prettyLine(JSON.stringify(r)));
    const about = lines.filter((l) => l.includes('web-1'));
    expect(about.length).toBeGreaterThan(15);
    for (const l of about)
      expect(l).toMatch(
        /^\d\d:\d\d:\d\d (DEBUG|INFO |WARN |ERROR) web-1 (run [0-9a-f]{8} )?\[web\] /,
      );
  });

  it.each(['json', 'pretty'])('%s: a secret logged by path is redacted', async (format) => {
    const secret = 'ghp_s3cretT0kenValue';
    const code = `
      import { logger } from './src/log/logger.ts';
      logger().warn({ token: '${secret}', env: { GITHUB_TOKEN: '${secret}' },
        request: { headers: { authorization: 'Bearer ${secret}' } } }, 'Request failed');`;
    const exit = await runNode(['--input-type=module', '-e', code], {
      PATH: process.env.PATH,
      LOOPWRIGHT_LOG_FORMAT: format,
    });
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toContain('Request failed');
    expect(exit.stderr).toContain('[redacted]');
    expect(exit.stderr).not.toContain(secret);
  });
});
