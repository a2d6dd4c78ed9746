/**
 * The running agent's transcript on the ticket page: its tail is shown and streamed as it grows,
 * the stream ends with the run, and a transcript path outside this home's runs/ directory (a
 * tampered row, a symlink) is never read.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleHandle } from '../../src/console/server.js';
import { getTicket } from '../../src/db/tickets.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { addRepo, newTicket } from '../helpers/fixtures.js';
import { consoleOn } from './support.js';

let t: TestDb;
let home: string;
let c: ConsoleHandle;

beforeAll(async () => {
  t = await createTestDb(6);
  home = await mkdtemp(path.join(os.tmpdir(), 'lw-console-home-'));
  c = await consoleOn(t, home);
});

afterAll(async () => {
  await c?.close();
  await t?.drop();
  await rm(home, { recursive: true, force: true });
});

async function runningRun(key: string, transcriptPath: string): Promise<string> {
  const ticket = await getTicket(t.db, key);
  const id = randomUUID();
  await t.db
    .insertInto('loopwright.agent_runs')
    .values({
      id,
      ticket_id: ticket.id,
      seq: ticket.version,
      role: 'lead',
      phase: 'plan_draft',
      status: 'running',
      provider: 'scripted',
      started_at: new Date(),
      transcript_path: transcriptPath,
    })
    .execute();
  return id;
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => void (body += d));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

describe('transcript tail', () => {
  it('shows the tail, streams what is appended, and ends with the run', async () => {
    const repo = await addRepo(t.db);
    const key = await newTicket(t.db, repo);
    const file = path.join(home, 'runs', key, 'run.jsonl');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '{"type":"system","note":"<script>x</script>"}\n');
    const runId = await runningRun(key, file);
    const page = await get(`${c.url}tickets/${key}`);
    expect(page).toContain(`id="transcript-tail" data-run="${runId}"`);
    expect(page).toContain('&lt;script&gt;x&lt;/script&gt;');
    const size = /data-size="(\d+)"/.exec(page)![1];

    const events: { event: string; data: string }[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      request(`${c.url}tickets/${key}/transcript?run=${runId}&from=${size}`, (res) => {
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, data });
          }
        });
        res.on('end', () => resolve());
      })
        .on('error', reject)
        .end();
    });
    await new Promise((r) => setTimeout(r, 600));
    await appendFile(file, '{"type":"assistant","text":"working"}\n');
    await new Promise((r) => setTimeout(r, 1500));
    await t.db
      .updateTable('loopwright.agent_runs')
      .set({ status: 'succeeded', finished_at: new Date() })
      .where('id', '=', runId)
      .execute();
    await ended;
    const appended = events.filter((e) => e.event === 'append').map((e) => JSON.parse(e.data).text);
    expect(appended.join('')).toBe('{"type":"assistant","text":"working"}\n');
    expect(events.at(-1)).toEqual({ event: 'end', data: '{"why":"succeeded"}' });
  }, 20_000);

  it('never reads a transcript outside the runs directory, nor through a symlink', async () => {
    const repo = await addRepo(t.db);
    const secret = path.join(home, 'secret.txt');
    await writeFile(secret, 'TOP-SECRET-VALUE\n');
    const outside = await newTicket(t.db, repo);
    await runningRun(outside, secret);
    const traversal = await newTicket(t.db, repo);
    await runningRun(traversal, path.join(home, 'runs', '..', 'secret.txt'));
    const linked = await newTicket(t.db, repo);
    const link = path.join(home, 'runs', linked, 'run.jsonl');
    await mkdir(path.dirname(link), { recursive: true });
    await symlink(secret, link);
    await runningRun(linked, link);
    for (const key of [outside, traversal, linked]) {
      const page = await get(`${c.url}tickets/${key}`);
      expect(page).toContain('transcript');
      expect(page).not.toContain('TOP-SECRET-VALUE');
    }
  });

  it('refuses a malformed stream request', async () => {
    const repo = await addRepo(t.db);
    const key = await newTicket(t.db, repo);
    expect(await get(`${c.url}tickets/${key}/transcript?run=../../etc&from=0`)).toMatch(
      /^bad input/,
    );
    expect(await get(`${c.url}tickets/${key}/transcript?run=${randomUUID()}&from=-1`)).toMatch(
      /^bad input/,
    );
  });
});
