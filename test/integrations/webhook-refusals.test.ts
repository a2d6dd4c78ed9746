/**
 * The webhook receiver refuses what it cannot trust, and a refusal changes nothing stored: for
 * both endpoints, an unsigned request, a forged signature, a replayed delivery id, a body that is
 * not JSON, an oversized body (declared and streamed) and, for Linear, a signed timestamp outside
 * the window each get 401/400/409/413, and every loopwright table (and the job queue) has the same
 * rows, byte for byte, before and after.
 */
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startWebhookServer, type WebhookServer } from '../../src/integrations/webhooks/server.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { snapshotDb } from './helpers.js';

const GH_SECRET = `whsec-${randomUUID()}`;
const LINEAR_SECRET = `lin-wh-${randomUUID()}`;
const MAX = 64 * 1024;

let db: TestDb;
let server: WebhookServer;
let before: Record<string, string>;

interface Sent {
  readonly status: number;
  readonly body: string;
}

/** One raw POST (node:http, so an oversized or chunked body is sent exactly as given). */
function post(
  path: string,
  headers: Record<string, string>,
  body: Buffer | string,
  o: { chunked?: boolean } = {},
): Promise<Sent> {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(o.chunked ? {} : { 'content-length': String(data.length) }),
        ...headers,
      },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
    });
    // The server answers 413 and closes while a large body is still being written.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    if (o.chunked) {
      for (let i = 0; i < data.length; i += 16 * 1024) req.write(data.subarray(i, i + 16 * 1024));
      req.end();
    } else req.end(data);
  });
}

const hmac = (secret: string, body: Buffer | string) =>
  createHmac('sha256', secret).update(body).digest('hex');

function github(body: Buffer | string, o: { delivery?: string; signature?: string | null } = {}) {
  const signature = o.signature === undefined ? `sha256=${hmac(GH_SECRET, body)}` : o.signature;
  return post(
    '/webhooks/github',
    {
      'x-github-event': 'pull_request_review',
      'x-github-delivery': o.delivery ?? randomUUID(),
      ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    },
    body,
  );
}

function linear(body: Buffer | string, o: { delivery?: string; signature?: string | null } = {}) {
  const signature = o.signature === undefined ? hmac(LINEAR_SECRET, body) : o.signature;
  return post(
    '/webhooks/linear',
    {
      'linear-delivery': o.delivery ?? randomUUID(),
      ...(signature === null ? {} : { 'linear-signature': signature }),
    },
    body,
  );
}

const reviewBody = () =>
  JSON.stringify({
    action: 'submitted',
    review: { id: Math.floor(Math.random() * 1e9), state: 'approved', commit_id: 'a'.repeat(40) },
    pull_request: {
      number: 7,
      state: 'open',
      head: { ref: 'loopwright/app-1', sha: 'a'.repeat(40) },
    },
    repository: { full_name: 'acme/app' },
  });

const issueBody = (webhookTimestamp = Date.now()) =>
  JSON.stringify({
    type: 'Issue',
    action: 'create',
    data: { id: randomUUID(), team: { key: 'ENG' } },
    webhookTimestamp,
  });

beforeAll(async () => {
  db = await createTestDb(4);
  server = await startWebhookServer({
    db: db.db,
    port: 0,
    host: '127.0.0.1',
    logger: pino({ level: 'silent' }),
    maxBodyBytes: MAX,
    env: { GITHUB_WEBHOOK_SECRET: GH_SECRET, LINEAR_WEBHOOK_SECRET: LINEAR_SECRET },
  });
});

afterAll(async () => {
  await server?.close();
  await db?.drop();
});

beforeEach(async () => {
  before = await snapshotDb(db.db);
});

async function expectUnchanged(): Promise<void> {
  expect(await snapshotDb(db.db)).toEqual(before);
}

describe('GitHub webhook refusals', () => {
  it('refuses an unsigned delivery with 401 and stores nothing', async () => {
    expect((await github(reviewBody(), { signature: null })).status).toBe(401);
    await expectUnchanged();
  });

  it('refuses a forged signature with 401 (wrong secret, truncated, other scheme)', async () => {
    const body = reviewBody();
    for (const signature of [
      `sha256=${hmac('not-the-secret', body)}`,
      `sha256=${hmac(GH_SECRET, body).slice(0, 40)}`,
      `sha1=${createHmac('sha1', GH_SECRET).update(body).digest('hex')}`,
      `sha256=${hmac(GH_SECRET, `${body} `)}`,
    ])
      expect((await github(body, { signature })).status).toBe(401);
    await expectUnchanged();
  });

  it('refuses a signed body that is not JSON, or not an object, with 400', async () => {
    for (const body of ['{"action": "submitted",', 'not json at all', '[1,2,3]', 'null'])
      expect((await github(body)).status).toBe(400);
    await expectUnchanged();
  });

  it('refuses an oversized body with 413, declared or streamed without a length', async () => {
    const big = Buffer.alloc(MAX + 1, 'a');
    expect((await github(big)).status).toBe(413);
    const streamed = await post(
      '/webhooks/github',
      {
        'x-github-event': 'pull_request_review',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': `sha256=${hmac(GH_SECRET, big)}`,
      },
      Buffer.alloc(MAX * 4, 'a'),
      { chunked: true },
    );
    expect(streamed.status).toBe(413);
    await expectUnchanged();
  });

  it('refuses a replayed delivery id with 409 once the first is stored', async () => {
    const body = reviewBody();
    expect((await github(body, { delivery: 'gh-delivery-1' })).status).toBe(202);
    const accepted = await snapshotDb(db.db);
    expect(accepted['loopwright.webhook_deliveries']).toMatch(/^1:/);
    expect(accepted['graphile_worker._private_jobs']).not.toBe(
      before['graphile_worker._private_jobs'],
    );
    before = accepted;
    const replay = await github(body, { delivery: 'gh-delivery-1' });
    expect(replay.status).toBe(409);
    expect(JSON.parse(replay.body)).toEqual({ error: expect.stringContaining('already received') });
    await expectUnchanged();
  });
});

describe('Linear webhook refusals', () => {
  it('refuses an unsigned delivery with 401', async () => {
    expect((await linear(issueBody(), { signature: null })).status).toBe(401);
    await expectUnchanged();
  });

  it('refuses a forged signature with 401', async () => {
    const body = issueBody();
    for (const signature of [hmac('nope', body), hmac(LINEAR_SECRET, body).toUpperCase(), 'x'])
      expect((await linear(body, { signature })).status).toBe(401);
    await expectUnchanged();
  });

  it('refuses a signed delivery whose signed timestamp is out of the window with 401', async () => {
    for (const ts of [Date.now() - 5 * 60_000, Date.now() + 5 * 60_000]) {
      const body = issueBody(ts);
      expect((await linear(body)).status).toBe(401);
    }
    const untimed = JSON.stringify({ type: 'Issue', action: 'create', data: { id: 'x' } });
    expect((await linear(untimed)).status).toBe(401);
    await expectUnchanged();
  });

  it('refuses a signed body that is not JSON with 400', async () => {
    expect((await linear('{"type": "Issue"')).status).toBe(400);
    await expectUnchanged();
  });

  it('refuses an oversized body with 413', async () => {
    expect((await linear(Buffer.alloc(MAX + 1, 'b'))).status).toBe(413);
    await expectUnchanged();
  });

  it('refuses a replayed Linear delivery id with 409 after storing the first', async () => {
    const body = issueBody();
    expect((await linear(body, { delivery: 'lin-delivery-1' })).status).toBe(202);
    before = await snapshotDb(db.db);
    expect((await linear(body, { delivery: 'lin-delivery-1' })).status).toBe(409);
    await expectUnchanged();
  });

  it('answers 404 for another path and 405 for another method, changing nothing', async () => {
    expect((await post('/webhooks/gitlab', {}, '{}')).status).toBe(404);
    const get = await new Promise<number>((resolve, reject) =>
      http
        .get(`${server.url}/webhooks/github`, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject),
    );
    expect(get).toBe(405);
    await expectUnchanged();
  });
});
