/**
 * End to end on the twins (test/twins): a Linear issue becomes a ticket, goes through the loop with
 * scripted agents, a PR is opened on the GitHub twin (through a secondary rate limit and a lost
 * response after the write: the job died between the API write and its journal row), a signed
 * changes_requested review sends it back to BUILD with the reviewer's line comment in the
 * handover, the rebuilt branch is pushed to the same PR, a signed approval merges it through the
 * API (through a 429 and a merge whose answer was lost), the live check passes and the Linear
 * issue ends in Done.
 * Duplicate and replayed deliveries change nothing; exactly one PR, one merge, one plan comment
 * and one verdict comment per validation. While the ticket waits: no job, no agent process and no
 * request to the twin over a 5 s window (the issue's 60 s, shortened for the suite). No token
 * appears in any agent's environment, transcript, log line or database row.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRepository } from '../../src/db/repositories.js';
import { getTicket } from '../../src/db/tickets.js';
import { createDemoRepo } from '../../src/demo/playbook.js';
import { createLinear } from '../../src/integrations/linear/client.js';
import { importLinearIssues } from '../../src/integrations/linear/import.js';
import { startFactory, type Factory } from '../../src/worker/factory.js';
import { REDACT_PATHS } from '../../src/log/logger.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { baseReport, feature, happySteps } from '../helpers/loop-script.js';
import { startGithubTwin, type GithubTwin } from '../twins/github-twin.js';
import { startLinearTwin, type LinearTwin } from '../twins/linear-twin.js';

const GH_TOKEN = `ghp_${randomUUID().replace(/-/g, '')}`;
const LINEAR_KEY = `lin_api_${randomUUID().replace(/-/g, '')}`;
const GH_SECRET = `whsec-${randomUUID()}`;
const LINEAR_SECRET = `lin-wh-${randomUUID()}`;
const SECRETS = [GH_TOKEN, LINEAR_KEY, GH_SECRET, LINEAR_SECRET];
const F = feature('salute');
const REVIEW_COMMENT = 'Please document what salute returns (reviewer-comment-7f3a)';

let db: TestDb;
let root: string;
let gh: GithubTwin;
let linear: LinearTwin;
let factory: Factory | null = null;
const logLines: string[] = [];
const saved: Record<string, string | undefined> = {};

/** The generator: writes the feature itself and copies its handover's findings into the report. */
function generatorScript(): string {
  const f = F;
  return `
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
const phase = process.env.LOOPWRIGHT_PHASE;
const task = readFileSync('.loopwright/task.md', 'utf8');
const write = (file, text) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
};
const base = ${JSON.stringify(baseReport('x'))};
let files;
if (phase === 'red') {
  write(${JSON.stringify(f.testFile)}, ${JSON.stringify(f.test)});
  files = [${JSON.stringify(f.testFile)}];
} else {
  const documented = task.includes('reviewer-comment-7f3a');
  const note = documented ? '// salute() returns the string salute.\\n' : '';
  write(${JSON.stringify(f.module)}, note + ${JSON.stringify(f.impl)});
  write(${JSON.stringify(f.liveFile)}, ${JSON.stringify(f.live)});
  files = [${JSON.stringify(f.module)}, ${JSON.stringify(f.liveFile)}];
}
const findings = task.split('## Previous findings')[1] ?? '';
const rationale = ('handover findings: ' + findings).slice(0, 3000);
const report = { ...base, summary: phase + ' done', rationale, filesChanged: files };
write('.loopwright/report.json', JSON.stringify(report));
`;
}

async function signedGithub(event: string, payload: unknown, delivery: string = randomUUID()) {
  const body = JSON.stringify(payload);
  const signature = `sha256=${createHmac('sha256', GH_SECRET).update(body).digest('hex')}`;
  return fetch(`${factory!.webhookUrl}/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': delivery,
      'x-hub-signature-256': signature,
    },
    body,
  });
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  ms = 90_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${await diagnose()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Where the ticket is and what failed, for a timeout's message. */
async function diagnose(): Promise<string> {
  const events = await db.db
    .selectFrom('loopwright.ticket_events')
    .select(['event_type', 'to_state'])
    .orderBy('id')
    .execute();
  const rejected = await sql<{
    r: string;
  }>`select event_type || ':' || reason as r from loopwright.rejected_events`.execute(db.db);
  const jobs = await sql<{
    j: string;
  }>`select task_identifier || ' ' || attempts || ' ' || coalesce(last_error, '') as j
    from graphile_worker.jobs`.execute(db.db);
  const gate = await db.db
    .selectFrom('loopwright.artifacts')
    .select('content')
    .where('kind', '=', 'gate_result')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return JSON.stringify({
    gate: gate?.content.slice(-1500),
    events: events.map((e) => `${e.event_type}>${e.to_state}`),
    rejected: rejected.rows,
    jobs: jobs.rows.map((j) => j.j.slice(0, 400)),
  });
}

const substateOf = async (key: string) => {
  const t = await getTicket(db.db, key);
  return `${t.state}${t.substate ? `.${t.substate}` : ''}`;
};

beforeAll(async () => {
  for (const k of [
    'GITHUB_TOKEN',
    'GITHUB_WEBHOOK_SECRET',
    'LINEAR_API_KEY',
    'LINEAR_API_URL',
    'LINEAR_WEBHOOK_SECRET',
  ])
    saved[k] = process.env[k];
  db = await createTestDb(12);
  root = await mkdtemp(path.join(os.tmpdir(), 'lw-gh-e2e-'));
  const repoPath = path.join(root, 'repo');
  await createDemoRepo(repoPath);
  const bare = path.join(root, 'remote', 'acme', 'app.git');
  await mkdir(path.dirname(bare), { recursive: true });
  execFileSync('git', ['clone', '-q', '--bare', repoPath, bare]);
  gh = await startGithubTwin({ token: GH_TOKEN, owner: 'acme', repo: 'app', bareRepo: bare });
  linear = await startLinearTwin({ apiKey: LINEAR_KEY, teams: ['ENG'] });
  Object.assign(process.env, {
    GITHUB_TOKEN: GH_TOKEN,
    GITHUB_WEBHOOK_SECRET: GH_SECRET,
    LINEAR_API_KEY: LINEAR_KEY,
    LINEAR_API_URL: linear.url,
    LINEAR_WEBHOOK_SECRET: LINEAR_SECRET,
  });
  const scriptPath = path.join(root, 'script.json');
  await writeFile(scriptPath, JSON.stringify({ steps: happySteps(F) }));
  const genPath = path.join(root, 'generator.mjs');
  await writeFile(genPath, generatorScript());
  const scripted = { provider: 'scripted' };
  await insertRepository(db.db, {
    name: 'app',
    path: repoPath,
    base_branch: 'main',
    test_cmd: 'node --test',
    live_cmd: 'node scripts/live-check.mjs',
    settings: JSON.stringify({
      agents: {
        lead: scripted,
        validator: scripted,
        generator: { provider: 'command', command: [process.execPath, genPath], vendor: 'none' },
      },
      script: scriptPath,
      agentTimeoutSeconds: 60,
      gateTimeoutSeconds: 60,
      github: { repository: 'acme/app', apiUrl: gh.url, remoteUrl: gh.gitUrl, events: 'webhook' },
      linear: { team: 'ENG' },
    }),
  });
}, 60_000);

afterAll(async () => {
  await factory?.stop();
  await gh?.close_server();
  await linear?.close();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await db?.drop();
  await rm(root, { recursive: true, force: true });
});

describe('GitHub and Linear end to end on the twins', () => {
  it('Linear issue -> PR -> changes requested -> rebuild -> approval -> ' +
    'merge -> LIVE -> Done', async () => {
    const issue = linear.addIssue({ title: F.title, teamKey: 'ENG', description: 'Say hello.' });
    const preview = await importLinearIssues(db.db, await createLinear(), {
      team: 'ENG',
      dryRun: true,
      actor: 'operator:test',
    });
    expect(preview).toMatchObject([
      { identifier: issue.identifier, action: 'would-create', repo: 'app' },
    ]);
    const [imported] = await importLinearIssues(db.db, await createLinear(), {
      team: 'ENG',
      dryRun: false,
      actor: 'operator:test',
    });
    expect(imported).toMatchObject({ action: 'created', ticket: 'app-1' });
    const again = await importLinearIssues(db.db, await createLinear(), {
      team: 'ENG',
      dryRun: false,
      actor: 'operator:test',
    });
    expect(again).toMatchObject([{ action: 'exists', ticket: 'app-1' }]);

    // A secondary rate limit on the PR creation, and a comment whose response is lost after the
    // write.
    gh.fault({
      method: 'POST',
      path: /\/pulls$/,
      status: 403,
      headers: { 'retry-after': '1' },
      body: {
        message:
          'You have exceeded a secondary rate limit. Please wait a few minutes ' +
          'before you try again.',
      },
    });
    // Then the PR is created but the answer is lost (the job dies between the write and its
    // journal row): the retry must find that PR, not open a second one.
    gh.fault({ method: 'POST', path: /\/pulls$/, status: 502, afterWrite: true });
    gh.fault({ method: 'POST', path: /\/issues\/\d+\/comments$/, status: 502, afterWrite: true });
    // The merge: rate limited once (429, retry-after), then merged with the answer lost.
    gh.fault({ method: 'PUT', path: /\/merge$/, status: 429, headers: { 'retry-after': '1' } });
    gh.fault({ method: 'PUT', path: /\/merge$/, status: 502, afterWrite: true });
    gh.fault({
      method: 'POST',
      path: /\/issues\/\d+\/comments$/,
      status: 429,
      headers: { 'retry-after': '1' },
    });

    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    factory = await startFactory({
      handle: db,
      home: path.join(root, 'home'),
      concurrency: 2,
      untilIdle: false,
      logger: pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink),
      heartbeatMs: 1000,
      webhookPort: 0,
    });
    await waitFor(
      'the PR to be opened',
      async () => (await substateOf('app-1')) === 'SHIP.awaiting_review',
    );
    expect(gh.pulls).toHaveLength(1);
    expect(linear.issues[0]!.stateName).toBe('In Review');

    // Waiting for review: no job, no agent process, no request to the twin for 5 s.
    const t = await getTicket(db.db, 'app-1');
    const before = gh.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const jobs = await sql<{
      n: number;
    }>`select count(*)::int as n from graphile_worker.jobs where key
      like ${`lw:${t.id}:%`}`.execute(db.db);
    expect(jobs.rows[0]!.n).toBe(0);
    const running = await db.db
      .selectFrom('loopwright.agent_runs')
      .select('id')
      .where('finished_at', 'is', null)
      .where('started_at', 'is not', null)
      .execute();
    expect(running).toEqual([]);
    expect(gh.requests.slice(before)).toEqual([]);

    // A signed changes_requested review, delivered twice (same id: refused) and redelivered (new
    // id).
    const review = gh.review(1, {
      state: 'CHANGES_REQUESTED',
      body: 'One thing.',
      comments: [{ path: F.module, line: 2, body: REVIEW_COMMENT }],
    });
    const first = await signedGithub('pull_request_review', review, 'delivery-review-1');
    expect(first.status).toBe(202);
    expect((await signedGithub('pull_request_review', review, 'delivery-review-1')).status).toBe(
      409,
    );
    expect((await signedGithub('pull_request_review', review, 'delivery-review-1b')).status).toBe(
      202,
    );
    await waitFor('the rebuild to reach BUILD', async () => {
      const rows = await db.db
        .selectFrom('loopwright.ticket_events')
        .select('event_type')
        .where('ticket_id', '=', t.id)
        .where('event_type', '=', 'PR_CHANGES_REQUESTED')
        .execute();
      return rows.length > 0;
    });
    await waitFor('the rebuilt branch to be pushed to the same PR', async () => {
      const state = await substateOf('app-1');
      const opened = await db.db
        .selectFrom('loopwright.ticket_events')
        .select('seq')
        .where('ticket_id', '=', t.id)
        .where('event_type', '=', 'PR_OPENED')
        .execute();
      return state === 'SHIP.awaiting_review' && opened.length === 2;
    });
    expect(gh.pulls).toHaveLength(1);
    const reports = await db.db
      .selectFrom('loopwright.artifacts')
      .select('content')
      .where('ticket_id', '=', t.id)
      .where('kind', '=', 'report')
      .orderBy('id')
      .execute();
    const buildHandover = reports.map((r) => r.content).filter((c) => c.includes('build done'));
    expect(buildHandover).toHaveLength(2);
    expect(buildHandover[1]).toContain(REVIEW_COMMENT);
    expect(buildHandover[1]).toContain(`${F.module}:2`);
    const head = execFileSync(
      'git',
      ['show', `${gh.pullPayload(1).head && 'refs/heads/loopwright/app-1'}:${F.module}`],
      { cwd: path.join(root, 'remote', 'acme', 'app.git'), encoding: 'utf8' },
    );
    expect(head).toContain('returns the string');

    // A signed approval: merged through the API (dark mode), live check, LIVE, Linear Done.
    const approval = gh.review(1, { state: 'APPROVED' });
    expect((await signedGithub('pull_request_review', approval)).status).toBe(202);
    expect((await signedGithub('pull_request_review', approval)).status).toBe(202);
    await waitFor('LIVE', async () => (await getTicket(db.db, 'app-1')).state === 'LIVE');
    await waitFor('Linear Done', async () => linear.issues[0]!.stateName === 'Done');
    // GitHub's own closed webhook for the merge arrives too: nothing more happens.
    expect(
      (
        await signedGithub('pull_request', {
          ...gh.pullPayload(1),
          action: 'closed',
          pull_request: gh.pullPayload(1),
          repository: { full_name: 'acme/app' },
        })
      ).status,
    ).toBe(202);

    expect(gh.merges).toHaveLength(1);
    expect(gh.pulls).toHaveLength(1);
    // Every injected fault was met (so each was survived without a repeat).
    const answered = (method: string, re: RegExp, status: number) =>
      gh.requests.filter((r) => r.method === method && re.test(r.path) && r.status === status);
    expect(answered('POST', /\/pulls$/, 403)).toHaveLength(1);
    expect(answered('POST', /\/pulls$/, 502)).toHaveLength(1);
    expect(answered('PUT', /\/merge$/, 429)).toHaveLength(1);
    expect(answered('PUT', /\/merge$/, 502)).toHaveLength(1);
    // mergeable was null at first (GitHub still computing): the merge job waited it out.
    expect(answered('GET', /\/pulls\/1$/, 200).length).toBeGreaterThanOrEqual(2);
    const bodies = gh.comments.get(1)!.map((c) => c.body);
    expect(bodies.filter((b) => b.includes(':plan:'))).toHaveLength(1);
    const verdicts = bodies.filter((b) => b.includes(':verdict -->'));
    expect(verdicts).toHaveLength(2);
    expect(new Set(verdicts.map((b) => b.split('\n')[0])).size).toBe(2);
    const ticket = await getTicket(db.db, 'app-1');
    const merged = execFileSync('git', ['rev-parse', 'refs/heads/main'], {
      cwd: path.join(root, 'repo'),
      encoding: 'utf8',
    }).trim();
    expect((ticket.snapshot.context as { mergeCommit: string }).mergeCommit).toBe(
      gh.merges[0]!.sha,
    );
    expect(merged).toBe(gh.merges[0]!.sha);
    await factory.stop();
    factory = null;

    // No secret anywhere: database rows, transcripts, logs.
    const tables = await sql<{
      t: string;
    }>`select table_schema || '.' || table_name as t from information_schema.tables
      where table_schema in ('loopwright', 'graphile_worker')
        and table_type = 'BASE TABLE'`.execute(db.db);
    let dump = '';
    for (const { t: table } of tables.rows) {
      const rows = await sql.raw(`select row_to_json(x)::text as j from ${table} x`).execute(db.db);
      dump += (rows.rows as { j: string }[]).map((r) => r.j).join('\n');
    }
    expect(dump).toContain('reviewer-comment-7f3a');
    const transcripts = await readAll(path.join(root, 'home', 'runs'));
    expect(transcripts.length).toBeGreaterThan(100);
    for (const secret of SECRETS) {
      expect(dump).not.toContain(secret);
      expect(transcripts).not.toContain(secret);
      expect(logLines.join('')).not.toContain(secret);
    }
  }, 240_000);
});

async function readAll(dir: string): Promise<string> {
  let out = '';
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out += await readFile(path.join(entry.parentPath, entry.name), 'utf8');
  }
  return out;
}
