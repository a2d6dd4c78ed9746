/**
 * Waiting for a review costs nothing, and the polling fallback does the webhook's job.
 *
 * In webhook mode a ticket in SHIP.awaiting_review holds no job, no process, and causes no request
 * to GitHub over a window (the issue's judge uses 60 s; LOOPWRIGHT_TEST_WAIT_MS sets it here,
 * default 8 s), while a polling repository served by the same `run` in the same window is read
 * with conditional requests that GitHub answers 304 — so the request counter is not blind. Then a
 * signed approval wakes the webhook ticket and it is merged.
 *
 * Without webhooks, polling picks up changes_requested (the line comment becomes a finding) and
 * approvals (also from a server that leaves optional fields out), backs off on errors with the
 * failure count, and escalates a PR that was deleted (404).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { insertRepository } from '../../src/db/repositories.js';
import { pollWaitingPrs } from '../../src/integrations/github/poll.js';
import { publishPrJob } from '../../src/integrations/github/ship-jobs.js';
import { driveTo, newTicket } from '../helpers/fixtures.js';
import { getTicket } from '../../src/db/tickets.js';
import { startFactory, type Factory } from '../../src/worker/factory.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import type { TwinRequest } from '../twins/github-twin.js';
import { setEnv } from './helpers.js';
import { jobsOf, processesOfTicket, shipRepo, waitingTicket, type ShipRepo } from './pr-fixture.js';

const WINDOW_MS = Number(process.env.LOOPWRIGHT_TEST_WAIT_MS ?? 8000);
const TOKEN = `ghp_${randomUUID().replace(/-/g, '')}`;
const SECRET = `whsec-${randomUUID()}`;
const log = pino({ level: 'silent' });

let db: TestDb;
let root: string;
let hooked: ShipRepo;
let polled: ShipRepo;
let factory: Factory | null = null;
let restoreEnv = () => {};

beforeAll(async () => {
  restoreEnv = setEnv({ GITHUB_TOKEN: TOKEN, GITHUB_WEBHOOK_SECRET: SECRET });
  db = await createTestDb(12);
  root = await mkdtemp(path.join(os.tmpdir(), 'lw-gh-wait-'));
  hooked = await shipRepo(db.db, root, 'hooked', { token: TOKEN, events: 'webhook' });
  polled = await shipRepo(db.db, root, 'polled', {
    token: TOKEN,
    events: 'poll',
    pollSeconds: 1,
    mode: 'copilot',
  });
});

afterAll(async () => {
  await factory?.stop();
  await hooked?.twin.close_server();
  await polled?.twin.close_server();
  restoreEnv();
  await db?.drop();
  await rm(root, { recursive: true, force: true });
});

const state = async (key: string) => {
  const t = await getTicket(db.db, key);
  return `${t.state}${t.substate ? `.${t.substate}` : ''}`;
};

async function until<T>(what: string, probe: () => Promise<T | null | false>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Requests to the twin since `from` about PR `n` (its API paths) or the git remote. */
const about = (requests: TwinRequest[], from: number, n: number) =>
  requests
    .slice(from)
    .filter(
      (r) => new RegExp(`/(pulls|issues)/${n}(/|$)`).test(r.path) || r.path.startsWith('/git/'),
    );

function signedReview(payload: unknown) {
  const body = JSON.stringify(payload);
  return fetch(`${factory!.webhookUrl}/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'pull_request_review',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
    body,
  });
}

describe('waiting for a review', () => {
  it(`holds no job, process or request in webhook mode over ${WINDOW_MS} ms`, async () => {
    const waiting = await waitingTicket(db.db, hooked, 'hooked.txt');
    const other = await waitingTicket(db.db, polled, 'polled.txt');
    factory = await startFactory({
      handle: db,
      home: path.join(root, 'home'),
      concurrency: 2,
      untilIdle: false,
      logger: log,
      heartbeatMs: 1000,
      webhookPort: 0,
    });
    try {
      const fromHooked = hooked.twin.requests.length;
      const fromPolled = polled.twin.requests.length;
      const samples: { jobs: number; pids: number; running: number }[] = [];
      const end = Date.now() + WINDOW_MS;
      while (Date.now() < end) {
        const running = await db.db
          .selectFrom('loopwright.agent_runs')
          .select('id')
          .where('ticket_id', '=', waiting.id)
          .where('started_at', 'is not', null)
          .where('finished_at', 'is', null)
          .execute();
        samples.push({
          jobs: (await jobsOf(db.db, waiting.id)).length,
          pids: (await processesOfTicket(waiting.key)).length,
          running: running.length,
        });
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(samples.length).toBeGreaterThan(5);
      expect(samples.filter((s) => s.jobs || s.pids || s.running)).toEqual([]);
      expect(await state(waiting.key)).toBe('SHIP.awaiting_review');
      // Not one request to GitHub about the waiting ticket, nor any other.
      expect(about(hooked.twin.requests, fromHooked, waiting.number)).toEqual([]);
      expect(hooked.twin.requests.slice(fromHooked)).toEqual([]);
      // Meanwhile the polling repository was read, mostly answered 304 Not Modified.
      const polls = about(polled.twin.requests, fromPolled, other.number);
      expect(polls.length).toBeGreaterThanOrEqual(4);
      expect(polls.filter((r) => r.status === 304).length).toBeGreaterThanOrEqual(2);
      expect(polls.every((r) => r.method === 'GET')).toBe(true);

      // The webhook is what wakes the waiting ticket: approved -> merged through the API.
      const approval = hooked.twin.review(waiting.number, { state: 'APPROVED' });
      expect((await signedReview(approval)).status).toBe(202);
      await until('the merge on GitHub', async () => hooked.twin.merges.length === 1);
      expect(about(hooked.twin.requests, fromHooked, waiting.number).length).toBeGreaterThan(0);
      await until('the merge recorded', async () =>
        (await getTicket(db.db, waiting.key)).snapshot.context.mergeCommit ? true : null,
      );
    } finally {
      await factory.stop();
      factory = null;
    }
  }, 90_000);
});

describe('the polling fallback', () => {
  const pollUntilQuiet = () => pollWaitingPrs(db.db, log);
  const makeDue = () => sql`update loopwright.poll_state set next_poll_at = now()`.execute(db.db);

  it('picks up changes_requested with its line comment, using ETags between changes', async () => {
    const t = await waitingTicket(db.db, polled, 'changes.txt');
    const from = polled.twin.requests.length;
    expect(await pollUntilQuiet()).toBeGreaterThanOrEqual(1);
    // Not due again before pollSeconds: no request at all.
    const afterFirst = polled.twin.requests.length;
    await pollUntilQuiet();
    expect(about(polled.twin.requests, afterFirst, t.number)).toEqual([]);
    for (let i = 0; i < 3; i++) {
      await makeDue();
      await pollUntilQuiet();
    }
    const unchanged = about(polled.twin.requests, from, t.number);
    expect(
      unchanged.filter((r) => r.status === 304 && r.conditional).length,
    ).toBeGreaterThanOrEqual(2);
    expect(await state(t.key)).toBe('SHIP.awaiting_review');

    polled.twin.review(t.number, {
      state: 'CHANGES_REQUESTED',
      body: 'Not yet.',
      comments: [{ path: 'changes.txt', line: 1, body: 'say why (poll-comment-51c2)' }],
    });
    await makeDue();
    await pollUntilQuiet();
    const ticket = await getTicket(db.db, t.key);
    expect(ticket.state).toBe('BUILD');
    expect(ticket.snapshot.context.findings).toEqual(
      expect.arrayContaining([
        expect.stringContaining('changes.txt:1: say why (poll-comment-51c2)'),
      ]),
    );
  });

  it('picks up a terse approval (copilot: then waits for the human merge)', async () => {
    const t = await waitingTicket(db.db, polled, 'approve.txt');
    await makeDue();
    await pollUntilQuiet();
    polled.twin.review(t.number, { state: 'APPROVED', bare: true });
    await makeDue();
    await pollUntilQuiet();
    expect(await state(t.key)).toBe('SHIP.awaiting_merge');
    // The human merges on GitHub: the next poll sees it and fetches the merge commit.
    const merged = polled.twin.mergeByHuman(t.number) as {
      pull_request: { merge_commit_sha: string };
    };
    await makeDue();
    await pollUntilQuiet();
    const after = await getTicket(db.db, t.key);
    expect(after.snapshot.context.mergeCommit).toBe(merged.pull_request.merge_commit_sha);
  });

  it('backs off exponentially while GitHub fails, and recovers', async () => {
    const t = await waitingTicket(db.db, polled, 'backoff.txt');
    const key = `github:acme/polled#${t.number}`;
    const interval = async () => {
      const { rows } = await sql<{ failures: number; secs: number }>`
        select failures, extract(epoch from next_poll_at - updated_at)::float as secs
        from loopwright.poll_state where key = ${key}`.execute(db.db);
      return rows[0]!;
    };
    polled.twin.fault({
      method: 'GET',
      path: new RegExp(`/pulls/${t.number}$`),
      status: 502,
      times: 3,
    });
    await makeDue();
    await pollUntilQuiet();
    expect(await interval()).toMatchObject({ failures: 1 });
    expect((await interval()).secs).toBeCloseTo(2, 0);
    await makeDue();
    await pollUntilQuiet();
    expect(await interval()).toMatchObject({ failures: 2 });
    expect((await interval()).secs).toBeCloseTo(4, 0);
    await makeDue();
    await pollUntilQuiet();
    expect((await interval()).secs).toBeCloseTo(8, 0);
    await makeDue();
    await pollUntilQuiet();
    expect(await interval()).toMatchObject({ failures: 0 });
    expect((await interval()).secs).toBeCloseTo(1, 0);
    expect(await state(t.key)).toBe('SHIP.awaiting_review');
  });

  it('escalates a ticket whose PR was deleted (404) with PR_CLOSED', async () => {
    const t = await waitingTicket(db.db, polled, 'deleted.txt');
    polled.twin.deletePull(t.number);
    await makeDue();
    await pollUntilQuiet();
    const ticket = await getTicket(db.db, t.key);
    expect(ticket.state).toBe('ESCALATED');
    expect(ticket.snapshot.context).toMatchObject({
      reason: 'PR_CLOSED',
      detail: expect.stringContaining('no longer exists'),
    });
  });
});

describe('status', () => {
  it('says which mode each repository ships in: webhook, polling or local', async () => {
    await insertRepository(db.db, { name: 'plain', path: path.join(root, 'plain') });
    const run = async (argv: string[]) => {
      let stdout = '';
      const code = await main(argv, {
        stdout: (s) => void (stdout += s),
        stderr: () => {},
        env: { LOOPWRIGHT_DATABASE_URL: db.url, LOOPWRIGHT_HOME: path.join(root, 'home') },
        cwd: root,
      });
      expect(code).toBe(0);
      return stdout;
    };
    const doc = JSON.parse(await run(['status', '--json'])) as { shipModes: unknown };
    expect(doc.shipModes).toEqual([
      { repo: 'hooked', mode: 'webhook', github: 'acme/hooked', pollSeconds: null },
      { repo: 'plain', mode: 'local', github: null, pollSeconds: null },
      { repo: 'polled', mode: 'polling', github: 'acme/polled', pollSeconds: 1 },
    ]);
    const lines = (await run(['status'])).split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ship mode hooked: webhook .*acme\/hooked/),
        expect.stringMatching(/^ship mode plain: local /),
        expect.stringMatching(/^ship mode polled: polling .*every 1s/),
      ]),
    );
  });
});

describe('publish_pr with a refused token', () => {
  it('escalates at once with GITHUB_UNAUTHORIZED instead of failing into retries', async () => {
    const key = await newTicket(db.db, polled.repo, 'refused');
    await driveTo(db.db, key, 'SHIP');
    execFileSync('git', ['branch', `loopwright/${key}`, 'main'], { cwd: polled.path });
    const t = await getTicket(db.db, key);
    expect(`${t.state}.${t.substate}`).toBe('SHIP.publishing');
    const restore = setEnv({ GITHUB_TOKEN: 'ghp_revoked' });
    try {
      const deps = {
        db: db.db,
        home: root,
        poolId: null,
        logger: log,
        signal: AbortSignal.abort(),
      };
      const payload = { ticketId: t.id, seq: t.version, runId: t.current_run_id! };
      // Resolves (the job is done): graphile-worker has nothing to retry.
      await expect(publishPrJob(deps, payload)).resolves.toBeUndefined();
    } finally {
      restore();
    }
    const after = await getTicket(db.db, key);
    expect(after.state).toBe('ESCALATED');
    expect(after.snapshot.context).toMatchObject({
      reason: 'JOB_FAILED',
      detail: expect.stringMatching(/^GITHUB_UNAUTHORIZED: .*loopwright retry/),
    });
  });
});
