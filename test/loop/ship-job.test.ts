/**
 * The merge job on its own, against a real database and repository: a retry after the
 * compare-and-swap (and before the event) journals MERGED with the same commit and never merges
 * twice; a dirty user checkout is one journaled CHECKOUT_DIRTY and then quiet polling with
 * backoff; the ship lock serializes one repository and not two.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJournal } from '../../src/db/journal.js';
import { withRepoLock } from '../../src/db/repo-locks.js';
import { insertRepository, type Repository } from '../../src/db/repositories.js';
import { getTicket } from '../../src/db/tickets.js';
import type { JobDeps } from '../../src/phases/agent-job.js';
import type { WorkPayload } from '../../src/phases/dispatch.js';
import { mergeJob } from '../../src/phases/ship-job.js';
import { git, mergeToBase } from '../../src/workspace/index.js';
import { CHECK_CMD, makeCheckRepo } from '../helpers/check-repo.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { driveTo, newTicket } from '../helpers/fixtures.js';

let t: TestDb;
let root: string;
let counter = 0;

beforeAll(async () => {
  t = await createTestDb(6);
  root = await mkdtemp(path.join(os.tmpdir(), 'lw-ship-job-'));
});
afterAll(async () => {
  await t.drop();
  await rm(root, { recursive: true, force: true });
});

/** A check repo, registered, and a ticket in SHIP.merging whose branch adds one file. */
async function shippable(
  testCmd: (dir: string) => string = () => CHECK_CMD,
): Promise<{ repo: Repository; key: string; deps: JobDeps }> {
  const name = `ship${++counter}`;
  const dir = path.join(root, name);
  await makeCheckRepo(dir);
  const repo = await insertRepository(t.db, {
    name,
    path: dir,
    test_cmd: testCmd(dir),
    live_cmd: CHECK_CMD,
    settings: '{}',
  });
  const key = await newTicket(t.db, repo, 'one file');
  await git(dir, ['branch', `loopwright/${key}`]);
  const side = path.join(root, `${name}-side`);
  await git(dir, ['worktree', 'add', '-q', side, `loopwright/${key}`]);
  await writeFile(path.join(side, 'src', `${key}.txt`), `${key}\n`);
  await git(side, ['add', '--all']);
  await git(side, ['commit', '-q', '-m', `${key}: one file`]);
  await driveTo(t.db, key, 'SHIP');
  const deps: JobDeps = {
    db: t.db,
    home: path.join(root, 'home'),
    poolId: null,
    logger: pino({ level: 'silent' }),
    signal: new AbortController().signal,
  };
  return { repo, key, deps };
}

async function payloadOf(key: string, extra: Partial<WorkPayload> = {}): Promise<WorkPayload> {
  const ticket = await getTicket(t.db, key);
  return { ticketId: ticket.id, seq: ticket.version, runId: ticket.current_run_id!, ...extra };
}

const noReschedule = async () => {
  throw new Error('unexpected reschedule');
};

describe('mergeJob', () => {
  it('recognizes a merge made before a crash (CAS, no event), journals that commit', async () => {
    const { repo, key, deps } = await shippable();
    // The first attempt got as far as moving main, then the process died.
    const first = await mergeToBase({
      repoPath: repo.path,
      baseBranch: 'main',
      tip: `refs/heads/loopwright/${key}`,
      message: `Merge ${key}`,
    });
    expect(first.ok).toBe(true);
    const mergedTip = await git(repo.path, ['rev-parse', 'main']);

    await mergeJob(deps, await payloadOf(key), noReschedule);
    const ticket = await getTicket(t.db, key);
    expect(ticket.snapshot.value).toEqual({ SHIP: 'verifying' });
    const merged = (await readJournal(t.db, ticket.id)).filter((r) => r.event_type === 'MERGED');
    expect(merged.map((r) => r.event.commit)).toEqual([mergedTip]);
    expect(await git(repo.path, ['rev-parse', 'main'])).toBe(mergedTip);
    expect(await git(repo.path, ['rev-list', '--count', '--merges', 'main'])).toBe('1');
  });

  it('journals one CHECKOUT_DIRTY, polls quietly with backoff, merges once clean', async () => {
    const { repo, key, deps } = await shippable();
    const base = await git(repo.path, ['rev-parse', 'main']);
    const script = path.join(repo.path, 'scripts/check.sh');
    const original = await readFile(script, 'utf8');
    await writeFile(script, `${original}# my local edit\n`);

    await mergeJob(deps, await payloadOf(key), noReschedule);
    let ticket = await getTicket(t.db, key);
    expect(ticket.snapshot.value).toEqual({ SHIP: 'waiting_checkout' });
    const journalled = (await readJournal(t.db, ticket.id)).length;
    expect((ticket.snapshot.context as { detail: string }).detail).toContain(
      `main is checked out in ${repo.path} with uncommitted changes (scripts/check.sh); ` +
        `commit or stash in ${repo.path}`,
    );

    const asked: [WorkPayload, number][] = [];
    const reschedule = async (next: WorkPayload, delay: number) => void asked.push([next, delay]);
    await mergeJob(deps, await payloadOf(key), reschedule);
    await mergeJob(deps, { ...(await payloadOf(key)), wait: 3 }, reschedule);
    await mergeJob(deps, { ...(await payloadOf(key)), wait: 9 }, reschedule);
    expect(asked.map(([p, d]) => [p.wait, d])).toEqual([
      [1, 1],
      [4, 8],
      [10, 30],
    ]);
    ticket = await getTicket(t.db, key);
    expect((await readJournal(t.db, ticket.id)).length).toBe(journalled);
    expect(await git(repo.path, ['rev-parse', 'main'])).toBe(base);
    expect(await readFile(script, 'utf8')).toBe(`${original}# my local edit\n`);

    await writeFile(script, original);
    await mergeJob(deps, { ...(await payloadOf(key)), wait: 10 }, noReschedule);
    ticket = await getTicket(t.db, key);
    expect(ticket.snapshot.value).toEqual({ SHIP: 'verifying' });
    expect(await git(repo.path, ['rev-parse', 'main'])).not.toBe(base);
    expect(await readFile(path.join(repo.path, 'src', `${key}.txt`), 'utf8')).toBe(`${key}\n`);
  });

  it('escalates MERGE_CHECK_FAILED when the test command fails on the merge commit', async () => {
    const { repo, key, deps } = await shippable();
    const base = await git(repo.path, ['rev-parse', 'main']);
    // The branch now adds a test without its source: the check script fails on the merge commit.
    const side = path.join(root, `${repo.name}-side`);
    await git(side, ['rm', '-q', `src/${key}.txt`]);
    await writeFile(path.join(side, 'tests', `${key}.t`), `${key}\n`);
    await git(side, ['add', '--all']);
    await git(side, ['commit', '-q', '-m', 'test without source']);

    await mergeJob(deps, await payloadOf(key), noReschedule);
    const ticket = await getTicket(t.db, key);
    expect(ticket.state).toBe('ESCALATED');
    expect(ticket.snapshot.context).toMatchObject({
      reason: 'MERGE_CHECK_FAILED',
      returnTo: 'SHIP',
      mergeCommit: null,
    });
    expect((ticket.snapshot.context as { detail: string }).detail).toContain(
      `missing src/${key}.txt`,
    );
    expect(await git(repo.path, ['rev-parse', 'main'])).toBe(base);
  });
});

describe('merge check sandbox', () => {
  it('tests the merge commit in the sandbox: the registered repository is hidden', async () => {
    const { repo, key, deps } = await shippable(
      (dir) =>
        `touch ${dir}/planted 2>/dev/null; ls ${dir}/scripts >/dev/null 2>&1 && exit ` +
        `1; ${CHECK_CMD}`,
    );
    await mergeJob(deps, await payloadOf(key), noReschedule);
    const ticket = await getTicket(t.db, key);
    expect(ticket.snapshot.value).toEqual({ SHIP: 'verifying' });
    await expect(readFile(path.join(repo.path, 'planted'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});

describe('withRepoLock', () => {
  it('runs one holder at a time per repository, different repositories side by side', async () => {
    const events: string[] = [];
    const hold = (repo: string, tag: string) =>
      withRepoLock(
        t.db,
        repo,
        async () => {
          events.push(`${tag}+`);
          await new Promise((resolve) => setTimeout(resolve, 300));
          events.push(`${tag}-`);
        },
        { pollMs: 20 },
      );
    await Promise.all([hold('repo-a', 'a1'), hold('repo-a', 'a2'), hold('repo-b', 'b1')]);
    const a = events.filter((e) => e.startsWith('a'));
    expect(a).toHaveLength(4);
    // The two holders of repo-a never overlap: the first leaves before the second enters.
    expect(a[0]!.slice(0, 2)).toBe(a[1]!.slice(0, 2));
    expect([a[0]!.at(-1), a[1]!.at(-1), a[2]!.at(-1), a[3]!.at(-1)]).toEqual(['+', '-', '+', '-']);
    // repo-b's holder entered while repo-a's first holder was still inside.
    expect(events.indexOf('b1+')).toBeLessThan(events.indexOf(a[1]!));
  });

  it('releases the lock when the holder throws', async () => {
    await expect(
      withRepoLock(t.db, 'repo-c', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await withRepoLock(t.db, 'repo-c', async () => 'again', { pollMs: 10 })).toBe('again');
  });
});
