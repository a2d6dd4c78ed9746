/**
 * Retention: `loopwright gc` removes what final tickets left on disk after the retention period
 * (transcripts, workspace clones, merged ticket branches, stale scratch checkouts) and nothing
 * else: not a ticket in work, not an unmerged branch, not a path outside the home's folders.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerTag } from '../../src/agents/process-identity.js';
import { homeDirs } from '../../src/config/home.js';
import { getTicket } from '../../src/db/tickets.js';
import { getWorkspace, upsertWorkspace } from '../../src/db/workspaces.js';
import { runGc } from '../../src/workspace/gc.js';
import { createWorktree } from '../../src/workspace/worktree.js';
import {
  cliEnv,
  driveToShip,
  expectBadInput,
  makeGitRepo,
  parseContract,
  removeTempDirs,
  runCli,
  send,
  tempDir,
} from '../cli/helpers.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { gitIdentityEnv } from '../helpers/fixtures.js';

let t: TestDb;
let home: string;
let osTmp: string;
let repo: string;
const keys: Record<'live' | 'cancelled' | 'escalated' | 'working' | 'elsewhere', string> = {
  live: '',
  cancelled: '',
  escalated: '',
  working: '',
  elsewhere: '',
};
const userDir = () => path.join(path.dirname(repo), 'user-files');
const env = () => cliEnv(t, { LOOPWRIGHT_HOME: home, TMPDIR: osTmp });
const gc = (...args: string[]) => runCli(t, ['gc', ...args], { env: env() });
const git = (...args: string[]) =>
  execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: gitIdentityEnv() });
const hasBranch = (key: string) => git('branch', '--list', `loopwright/${key}`).trim() !== '';

/** A ticket with a transcript and a real workspace clone on its branch. */
async function ticketWithFiles(title: string): Promise<string> {
  const add = await runCli(t, ['ticket', 'add', '--repo', 'app', '--title', title], { env: env() });
  const key = add.stdout.trim();
  const runs = path.join(homeDirs(home).runs, key);
  mkdirSync(runs, { recursive: true });
  writeFileSync(path.join(runs, 'run-1.jsonl'), 'x'.repeat(10_000));
  const wt = await createWorktree({
    repoPath: repo,
    baseBranch: 'main',
    ticketKey: key,
    root: homeDirs(home).workspaces,
  });
  const ticket = await getTicket(t.db, key);
  await upsertWorkspace(t.db, {
    ticket_id: ticket.id,
    repo_id: ticket.repo_id,
    path: wt.path,
    branch: wt.branch,
    base_commit: wt.baseCommit,
  });
  return key;
}

beforeAll(async () => {
  t = await createTestDb();
  home = tempDir('lw-gc-home-');
  osTmp = tempDir('lw-gc-tmp-');
  repo = makeGitRepo('app');
  expect((await runCli(t, ['repo', 'add', repo], { env: env() })).code).toBe(0);
  keys.live = await ticketWithFiles('merged');
  await driveToShip(t.db, keys.live);
  await send(t.db, keys.live, { type: 'MERGED', commit: 'abc1234' });
  await send(t.db, keys.live, { type: 'LIVE_CHECK_PASSED', evidence: 'ok' });
  keys.cancelled = await ticketWithFiles('cancelled with unmerged work');
  const tree = git('rev-parse', 'HEAD^{tree}').trim();
  const work = git('commit-tree', tree, '-p', 'HEAD', '-m', 'unmerged').trim();
  git('update-ref', `refs/heads/loopwright/${keys.cancelled}`, work);
  expect((await runCli(t, ['cancel', keys.cancelled], { env: env() })).code).toBe(0);
  keys.escalated = await ticketWithFiles('escalated');
  await send(t.db, keys.escalated, { type: 'START' });
  await send(t.db, keys.escalated, { type: 'JOB_FAILED', reason: 'JOB_FAILED', detail: 'x' });
  keys.working = await ticketWithFiles('in work');
  await send(t.db, keys.working, { type: 'START' });
  // A final ticket whose workspace row points at the user's own files.
  keys.elsewhere = (
    await runCli(t, ['ticket', 'add', '--repo', 'app', '--title', 'odd row'], { env: env() })
  ).stdout.trim();
  mkdirSync(path.join(userDir(), 'keep'), { recursive: true });
  writeFileSync(path.join(userDir(), 'keep', 'precious.txt'), 'mine');
  const odd = await getTicket(t.db, keys.elsewhere);
  await upsertWorkspace(t.db, {
    ticket_id: odd.id,
    repo_id: odd.repo_id,
    path: path.join(userDir(), 'keep'),
    branch: `loopwright/${keys.elsewhere}`,
    base_commit: 'abc1234',
  });
  expect((await runCli(t, ['cancel', keys.elsewhere], { env: env() })).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await t?.drop();
  removeTempDirs();
});

/** A dry run as if `days` had passed. */
const dryRunDaysOn = (days: number) =>
  runGc({ db: t.db, home, osTmpDir: osTmp, now: Date.now() + days * 86_400_000, dryRun: true });

const workspaceDir = async (key: string) =>
  (await getWorkspace(t.db, (await getTicket(t.db, key)).id))!.path;

describe('loopwright gc', () => {
  it('keeps everything younger than the retention period (default 14 days)', async () => {
    const result = await gc();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('nothing to prune');
    const later = await dryRunDaysOn(13);
    expect(later.items).toEqual([]);
  });

  it('a dry run 15 days on lists the final tickets files and removes nothing', async () => {
    const report = await dryRunDaysOn(15);
    const got = report.items.map((i) => `${i.kind} ${i.ticket}`).sort();
    expect(got).toEqual(
      [
        `branch ${keys.live}`,
        `transcripts ${keys.cancelled}`,
        `transcripts ${keys.escalated}`,
        `transcripts ${keys.live}`,
        `workspace ${keys.cancelled}`,
        `workspace ${keys.escalated}`,
        `workspace ${keys.live}`,
      ].sort(),
    );
    expect(report.bytes).toBeGreaterThan(30_000);
    expect(existsSync(path.join(homeDirs(home).runs, keys.live))).toBe(true);
    expect(existsSync(await workspaceDir(keys.live))).toBe(true);
    expect(hasBranch(keys.live)).toBe(true);
  });

  it('refuses a malformed --older-than and changes nothing', async () => {
    expectBadInput(await gc('--older-than', '5x'), /--older-than must be a number with a unit/);
    expectBadInput(await gc('--older-than', '-1d'));
    expect(existsSync(path.join(homeDirs(home).runs, keys.live))).toBe(true);
  });

  it('--older-than 0 prunes final tickets only, and says what it freed', async () => {
    const oldScratch = path.join(homeDirs(home).tmp, 'scratch-deadbeef-old');
    const newScratch = path.join(homeDirs(home).tmp, 'scratch-deadbeef-new');
    const oldSandbox = path.join(osTmp, 'loopwright-sbx-old');
    const notOurs = path.join(osTmp, 'someone-else-old');
    // Young ones named after their orchestrator: a killed one's goes at once, a live one's stays.
    const deadSandbox = path.join(osTmp, 'loopwright-sbx-p999999999.1-AbCd12');
    const liveSandbox = path.join(osTmp, `loopwright-sbx-${ownerTag()}AbCd12`);
    for (const dir of [oldScratch, newScratch, oldSandbox, notOurs, deadSandbox, liveSandbox]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'f'), 'y'.repeat(5000));
    }
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    for (const dir of [oldScratch, oldSandbox, notOurs]) utimesSync(dir, twoDaysAgo, twoDaysAgo);
    const workspaces = {
      live: await workspaceDir(keys.live),
      escalated: await workspaceDir(keys.escalated),
      working: await workspaceDir(keys.working),
    };
    const result = await runCli(t, ['gc', '--older-than', '0', '--json'], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    const doc = parseContract(result.stdout) as {
      count: number;
      bytes: number;
      tickets: number;
      skipped: string[];
      items: { kind: string; ticket: string | null; path: string }[];
    };
    expect(doc.tickets).toBe(3);
    expect(doc.count).toBe(10);
    const scratch = doc.items.filter((i) => i.kind === 'scratch').map((i) => i.path);
    expect(scratch.sort()).toEqual([oldScratch, oldSandbox, deadSandbox].sort());
    expect(existsSync(notOurs)).toBe(true);
    expect(existsSync(liveSandbox)).toBe(true);
    expect(doc.skipped).toEqual([path.join(userDir(), 'keep')]);
    // Final tickets' files are gone; the ticket in work keeps all of its own.
    for (const key of [keys.live, keys.cancelled, keys.escalated])
      expect(existsSync(path.join(homeDirs(home).runs, key))).toBe(false);
    expect(existsSync(workspaces.live)).toBe(false);
    expect(existsSync(workspaces.escalated)).toBe(false);
    expect(existsSync(path.join(homeDirs(home).runs, keys.working, 'run-1.jsonl'))).toBe(true);
    expect(existsSync(path.join(workspaces.working, 'README.md'))).toBe(true);
    expect(existsSync(newScratch)).toBe(true);
    // Branches: merged LIVE work goes; unmerged cancelled work and parked tickets stay.
    expect(hasBranch(keys.live)).toBe(false);
    expect(hasBranch(keys.cancelled)).toBe(true);
    expect(hasBranch(keys.escalated)).toBe(true);
    expect(hasBranch(keys.working)).toBe(true);
    // The user's files named by a workspace row are never touched.
    expect(existsSync(path.join(userDir(), 'keep', 'precious.txt'))).toBe(true);
    // Rows are kept; the workspace row says removed.
    const live = await getTicket(t.db, keys.live);
    expect(live.state).toBe('LIVE');
    expect((await getWorkspace(t.db, live.id))!.status).toBe('removed');
  });

  it('a second pass has nothing to do, and a RETRY re-creates the workspace', async () => {
    const again = await gc('--older-than', '0');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/nothing to prune\n$/);
    expect((await runCli(t, ['retry', keys.escalated], { env: env() })).code).toBe(0);
    const wt = await createWorktree({
      repoPath: repo,
      baseBranch: 'main',
      ticketKey: keys.escalated,
      root: homeDirs(home).workspaces,
    });
    expect(existsSync(path.join(wt.path, 'README.md'))).toBe(true);
  });
});
