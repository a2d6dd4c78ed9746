/**
 * The console over plain HTTP, against a real database: state-changing requests without a CSRF
 * token, from another origin, on a stale page or without the token of a non-loopback bind are
 * refused and change nothing; a good one is journaled with the console's operator actor; headers
 * and pages keep the CSP promise; events reach open streams of several consoles within a second.
 */
import { request } from 'node:http';
import os from 'node:os';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEvent } from '../../src/engine/apply-event.js';
import { getTicket } from '../../src/db/tickets.js';
import { startConsole, type ConsoleHandle } from '../../src/console/server.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { addRepo, newTicket } from '../helpers/fixtures.js';
import { consoleOn, SILENT } from './support.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One raw HTTP request (node's client: any Host/Origin header, no cookie jar). */
function call(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = {
      ...(o.body !== undefined ? { 'content-length': String(Buffer.byteLength(o.body)) } : {}),
      ...o.headers,
    };
    const req = request(url, { method: o.method ?? 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => void (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (o.body) req.write(o.body);
    req.end();
  });
}

function cookiesOf(reply: Reply): string {
  const set = reply.headers['set-cookie'] ?? [];
  return (Array.isArray(set) ? set : [set]).map((c) => c.split(';')[0]).join('; ');
}

/** A session cookie and the CSRF token a ticket's page carries in its action form. */
async function session(base: string, key: string, headers: Record<string, string> = {}) {
  const page = await call(`${base}tickets/${key}`, { headers });
  const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
  return { cookie: cookiesOf(page), token };
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

let t: TestDb;
let local: ConsoleHandle;
let home: string;

/** Everything a refused request must leave as it was. */
async function stored(key: string) {
  const ticket = await getTicket(t.db, key);
  const { rows } = await sql<{ n: number }>`
    select (select count(*) from loopwright.ticket_events
      where ticket_id = ${ticket.id}::bigint)::int
         + (select count(*) from loopwright.rejected_events
           where ticket_id = ${ticket.id}::bigint)::int as n`.execute(t.db);
  return { state: ticket.state, version: ticket.version, rows: rows[0]!.n };
}

beforeAll(async () => {
  t = await createTestDb(6);
  home = os.tmpdir();
  local = await consoleOn(t, home);
});

afterAll(async () => {
  await local?.close();
  await t?.drop();
});

describe('console requests', () => {
  it('sends a strict Content-Security-Policy and pages without inline script, style', async () => {
    const repo = await addRepo(t.db);
    await newTicket(t.db, repo, 'csp <b>check</b>');
    for (const path of ['', 'attention', 'batches', 'nope']) {
      const reply = await call(`${local.url}${path}`);
      const csp = String(reply.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(reply.headers['x-frame-options']).toBe('DENY');
      expect(reply.body).not.toMatch(/<script(?![^>]*\bsrc="\/assets\/console\.js")/);
      expect(reply.body).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
    }
    expect((await call(local.url)).body).toContain('csp &lt;b&gt;check&lt;/b&gt;');
  });

  it('refuses a POST with no or a wrong CSRF token or origin; changes nothing', async () => {
    const repo = await addRepo(t.db);
    const key = await newTicket(t.db, repo);
    const before = await stored(key);
    const { cookie, token } = await session(local.url, key);
    expect(token).toBeTruthy();
    const other = await session(local.url, key);
    const post = (fields: Record<string, string>, headers: Record<string, string>) =>
      call(`${local.url}tickets/${key}/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: form(fields),
      });
    const origin = local.url.replace(/\/$/, '');
    const attempts = [
      post({ action: 'cancel', version: String(before.version) }, { cookie, origin }),
      post({ action: 'cancel', version: String(before.version), _csrf: 'x' }, { cookie, origin }),
      post(
        { action: 'cancel', version: String(before.version), _csrf: other.token! },
        { cookie, origin },
      ),
      post({ action: 'cancel', version: String(before.version), _csrf: token! }, { origin }),
      post(
        { action: 'cancel', version: String(before.version), _csrf: token! },
        { cookie, origin: 'http://evil.example' },
      ),
      post({ action: 'cancel', version: String(before.version), _csrf: token! }, { cookie }),
      post(
        { action: 'cancel', version: String(before.version), _csrf: token! },
        { cookie, origin, 'sec-fetch-site': 'cross-site' },
      ),
    ];
    for (const reply of await Promise.all(attempts)) expect(reply.status).toBe(403);
    expect(await stored(key)).toEqual(before);

    // The same request, done right, is applied and journaled with the console's actor.
    const ok = await post(
      { action: 'cancel', version: String(before.version), _csrf: token!, reason: 'not needed' },
      { cookie, origin },
    );
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe(`/tickets/${key}`);
    const after = await getTicket(t.db, key);
    expect(after.state).toBe('CANCELLED');
    const { rows } = await sql<{ actor: string; event: { reason?: string } }>`
      select actor, event from loopwright.ticket_events where ticket_id = ${after.id}::bigint
        order by seq desc limit 1`.execute(t.db);
    expect(rows[0]).toMatchObject({
      actor: 'operator:console:tester',
      event: { reason: 'not needed' },
    });
  });

  it('refuses a button from a stale page, bad forms, GET-only routes, other methods', async () => {
    const repo = await addRepo(t.db);
    const key = await newTicket(t.db, repo);
    const { cookie, token } = await session(local.url, key);
    const origin = local.url.replace(/\/$/, '');
    const post = (fields: Record<string, string>) =>
      call(`${local.url}tickets/${key}/actions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          cookie,
          origin,
          accept: 'application/json',
        },
        body: form({ _csrf: token!, ...fields }),
      });
    const version = (await getTicket(t.db, key)).version;
    await applyEvent(t.db, key, { type: 'NOTE', text: 'moved meanwhile' }, { actor: 'operator:x' });
    const before = await stored(key);
    const stale = await post({ action: 'cancel', version: String(version) });
    expect(stale.status).toBe(409);
    expect(JSON.parse(stale.body)).toMatchObject({ status: 'rejected', reason: 'STALE_VERSION' });
    expect((await getTicket(t.db, key)).state).toBe('QUEUED');
    const bads: Record<string, string>[] = [
      { action: 'delete', version: '1' },
      { action: 'cancel', version: 'abc' },
      { action: 'cancel' },
      { action: 'replay', version: '3', reason: 'x' },
      { action: 'cancel', version: '3', reason: 'r'.repeat(501) },
    ];
    for (const bad of bads) {
      expect((await post(bad)).status).toBe(400);
    }
    expect((await call(`${local.url}tickets/${key}/actions`, { method: 'PUT' })).status).toBe(405);
    expect((await call(`${local.url}tickets/${key}/actions`, { method: 'DELETE' })).status).toBe(
      405,
    );
    expect((await call(`${local.url}tickets/${key}/actions`)).status).toBe(404);
    const missing = await call(`${local.url}tickets/nope-1/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin },
      body: form({ _csrf: token!, action: 'cancel', version: '1' }),
    });
    expect(missing.status).toBe(404);
    // Only the STALE_VERSION refusal was recorded (as the engine records every refusal).
    expect((await stored(key)).rows).toBe(before.rows + 1);
    expect((await stored(key)).version).toBe(before.version);
  });

  it('answers only to loopback Host names when bound to loopback (no DNS rebinding)', async () => {
    for (const host of [
      'evil.example',
      `evil.example:${local.port}`,
      `127.0.0.1.nip.io:${local.port}`,
    ]) {
      const reply = await call(local.url, { headers: { host } });
      expect(reply.status).toBe(421);
    }
    expect((await call(local.url, { headers: { host: `localhost:${local.port}` } })).status).toBe(
      200,
    );
  });

  it('requires the token on every request when bound to a non-loopback address', async () => {
    const remote = await consoleOn(t, home, { host: '0.0.0.0' });
    try {
      expect(remote.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(remote.tokenGenerated).toBe(true);
      const base = `http://127.0.0.1:${remote.port}/`;
      const repo = await addRepo(t.db);
      const key = await newTicket(t.db, repo);
      const before = await stored(key);
      for (const path of [
        '',
        'attention',
        'events',
        `tickets/${key}`,
        'assets/console.js',
        'board/counts',
      ]) {
        expect((await call(`${base}${path}`)).status).toBe(401);
        expect((await call(`${base}${path}?token=wrong`)).status).toBe(401);
        expect(
          (await call(`${base}${path}`, { headers: { authorization: 'Bearer wrong' } })).status,
        ).toBe(401);
      }
      // Even with a valid session and CSRF token from a token holder, no token: refused.
      const auth = { authorization: `Bearer ${remote.token}` };
      const { cookie, token } = await session(base, key, auth);
      const noToken = await call(`${base}tickets/${key}/actions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          cookie,
          origin: base.replace(/\/$/, ''),
        },
        body: form({ _csrf: token!, action: 'cancel', version: String(before.version) }),
      });
      expect(noToken.status).toBe(401);
      expect(await stored(key)).toEqual(before);

      // The printed link trades the token for a cookie and drops it from the address.
      const link = await call(`${base}attention?token=${remote.token}`);
      expect(link.status).toBe(303);
      expect(link.headers.location).toBe('/attention');
      const tokenCookie = cookiesOf(link);
      expect(tokenCookie).toContain('lw_token=');
      expect(String(link.headers['set-cookie'])).toMatch(/HttpOnly/i);
      expect((await call(`${base}attention`, { headers: { cookie: tokenCookie } })).status).toBe(
        200,
      );
      expect((await call(`${base}attention`, { headers: auth })).status).toBe(200);
    } finally {
      await remote.close();
    }
  });

  it('uses LOOPWRIGHT_CONSOLE_TOKEN when given, also on loopback', async () => {
    const guarded = await consoleOn(t, home, { token: 'a-configured-secret-token' });
    try {
      expect(guarded.tokenGenerated).toBe(false);
      expect((await call(guarded.url)).status).toBe(401);
      const ok = await call(guarded.url, {
        headers: { authorization: 'Bearer a-configured-secret-token' },
      });
      expect(ok.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });

  it('says in one line that the port is taken', async () => {
    const error = await consoleOnPort(local.port).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /^console not started: port \d+ on 127\.0\.0\.1 is already in use/,
    );
    expect((error as Error).message).not.toContain('\n');
  });

  it('delivers a ticket move to open streams of two consoles within a second', async () => {
    const second = await consoleOn(t, home);
    try {
      const repo = await addRepo(t.db);
      const key = await newTicket(t.db, repo);
      const streams = await Promise.all([
        openStream(local.url),
        openStream(local.url),
        openStream(second.url),
      ]);
      const started = Date.now();
      await applyEvent(t.db, key, { type: 'START' }, { actor: 'scheduler' });
      const messages = await Promise.all(streams.map((s) => s.next(key, 'PLAN_DRAFT')));
      const elapsed = Date.now() - started;
      for (const m of messages)
        expect(m).toMatchObject({ key, state: 'PLAN_DRAFT', repo: repo.name });
      expect(elapsed).toBeLessThan(1000);
      for (const s of streams) s.close();
    } finally {
      await second.close();
    }
  });

  it('escapes a ticket title in the live card, as on the page', async () => {
    const repo = await addRepo(t.db);
    const stream = await openStream(local.url);
    const key = await newTicket(t.db, repo, '<script>alert(1)</script>');
    const m = (await stream.next(key, 'QUEUED')) as { html: string };
    stream.close();
    expect(m.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(m.html).not.toContain('<script>');
  });
});

function consoleOnPort(port: number) {
  return startConsole({ handle: t, home, port, actor: 'operator:console:tester', logger: SILENT });
}

/** An SSE client on /events; `next(key, state)` resolves with the first message of key in state. */
function openStream(
  base: string,
): Promise<{ next(key: string, state: string): Promise<unknown>; close(): void }> {
  return new Promise((resolve, reject) => {
    const waiting = new Map<string, (m: unknown) => void>();
    const seen = new Map<string, unknown>();
    const req = request(`${base}events`, { headers: { accept: 'text/event-stream' } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === 'hello') {
            resolve({
              next: (key, state) =>
                seen.has(`${key} ${state}`)
                  ? Promise.resolve(seen.get(`${key} ${state}`))
                  : new Promise((r) => waiting.set(`${key} ${state}`, r)),
              close: () => req.destroy(),
            });
          }
          if (event === 'ticket' && data) {
            const m = JSON.parse(data) as { key: string; state: string };
            const id = `${m.key} ${m.state}`;
            if (!seen.has(id)) seen.set(id, m);
            waiting.get(id)?.(m);
            waiting.delete(id);
          }
        }
      });
    });
    req.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
    });
    req.end();
  });
}
