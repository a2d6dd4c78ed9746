/**
 * Console benchmarks: the board for 10,000 tickets across 20 repositories (seeded directly in a
 * bench database, with running agents), timed as the server answers GET / (target < 100 ms), and
 * the delay from an event's commit to its arrival at an open server-sent-event stream (target
 * < 250 ms p99).
 */
import { request } from 'node:http';
import os from 'node:os';
import { sql } from 'kysely';
import { pino } from 'pino';
import { MACHINE_VERSION } from '../machines/ticket.js';
import { startConsole } from '../src/console/server.js';
import { applyEvent } from '../src/engine/apply-event.js';
import type { BenchDb } from './bench-db.js';
import { percentile } from './report.js';

const STATES = [
  'QUEUED',
  'PLAN_DRAFT',
  'PLAN_NEGOTIATE',
  'RED',
  'BUILD',
  'VALIDATE',
  'SHIP',
  'LIVE',
  'ESCALATED',
  'DEAD_LETTER',
  'CANCELLED',
];

/**
 * 20 repositories, 10,000 tickets in every state (most LIVE), a journal row each, 40 running
 * agents.
 */
async function seed(db: BenchDb, tickets: number, repos: number): Promise<void> {
  await sql`insert into loopwright.repositories (name, path)
    select 'repo' || i, '/nonexistent/repo' || i from generate_series(1, ${repos}) i`.execute(
    db.db,
  );
  await sql`insert into loopwright.tickets (key, repo_id, number, title, state, substate,
    snapshot, version, machine_version, state_changed_at)
    select 'repo' || (1 + i % ${repos}) || '-' || i, r.id, i,
      'Ticket number ' || i || ' <b>escaped</b>',
      s.state, null,
      jsonb_build_object('value', s.state, 'context', jsonb_build_object('attempt', 1 + i % 3,
        'round', 1 + i % 2, 'costUsd', (i % 100) / 10.0, 'reason', case when s.state = 'ESCALATED'
          then 'ATTEMPTS_EXHAUSTED' end)),
      1, ${MACHINE_VERSION}, now() - (i || ' seconds')::interval
    from generate_series(1, ${tickets}) i
    join loopwright.repositories r on r.name = 'repo' || (1 + i % ${repos})
    cross join lateral (select (${STATES}::text[])[case when i % 10 < 6 then 8
      else 1 + (i * 7) % ${STATES.length} end] as state) s`.execute(db.db);
  await sql`insert into loopwright.ticket_events (ticket_id, seq, event_type, event, from_state,
    to_state, actor, snapshot)
    select id, 1, 'CREATE', '{"type":"CREATE"}', null, state, 'bench', snapshot
      from loopwright.tickets`.execute(db.db);
  await sql`insert into loopwright.agent_runs (id, ticket_id, seq, role, phase, status, provider,
    model, started_at)
    select gen_random_uuid(), id, 1, 'generator', 'build', 'running', 'claude', 'opus',
      now() - interval '42 seconds'
    from loopwright.tickets where state = 'BUILD' limit 40`.execute(db.db);
  await sql`analyze`.execute(db.db);
}

function get(url: string): Promise<{ ms: number; bytes: number; status: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => void (bytes += c.length));
      res.on('end', () =>
        resolve({ ms: performance.now() - started, bytes, status: res.statusCode ?? 0 }),
      );
    })
      .on('error', reject)
      .end();
  });
}

/** An SSE client resolving each ticket message to whoever waits for that key. */
function openEvents(url: string) {
  const waiters = new Map<string, () => void>();
  let ready!: () => void;
  const hello = new Promise<void>((r) => (ready = r));
  const req = request(`${url}events`, (res) => {
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith('event: hello')) ready();
        const key = /"key":"([^"]+)"/.exec(block)?.[1];
        if (key && waiters.has(key)) {
          waiters.get(key)!();
          waiters.delete(key);
        }
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return {
    hello,
    next: (key: string) => new Promise<void>((r) => waiters.set(key, r)),
    close: () => req.destroy(),
  };
}

export interface ConsoleBench {
  readonly tickets: number;
  readonly board: { p50: number; p95: number; max: number; bytes: number };
  readonly boardAll: { p50: number; p95: number; bytes: number };
  readonly sse: { samples: number; p50: number; p99: number; max: number };
}

export async function benchConsole(db: BenchDb): Promise<ConsoleBench> {
  const tickets = 10_000;
  await seed(db, tickets, 20);
  const c = await startConsole({
    handle: db,
    home: os.tmpdir(),
    port: 0,
    actor: 'operator:console:bench',
    logger: pino({ level: 'silent' }),
  });
  try {
    for (let i = 0; i < 3; i++) await get(c.url); // warm up
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 30; i++) {
      const r = await get(c.url);
      if (r.status !== 200) throw new Error(`board answered ${r.status}`);
      times.push(r.ms);
      bytes = r.bytes;
    }
    const filtered: number[] = [];
    let filteredBytes = 0;
    for (let i = 0; i < 10; i++) {
      const r = await get(`${c.url}?repo=repo${1 + (i % 20)}`);
      filtered.push(r.ms);
      filteredBytes = r.bytes;
    }
    const events = openEvents(c.url);
    await events.hello;
    const keys = (
      await db.db
        .selectFrom('loopwright.tickets')
        .select('key')
        .where('state', '=', 'BUILD')
        .limit(200)
        .execute()
    ).map((r) => r.key);
    const delays: number[] = [];
    for (const key of keys) {
      const arrived = events.next(key);
      const started = performance.now();
      await applyEvent(db.db, key, { type: 'NOTE', text: 'bench' }, { actor: 'operator:bench' });
      await arrived;
      delays.push(performance.now() - started);
    }
    events.close();
    return {
      tickets,
      board: {
        p50: percentile(times, 50),
        p95: percentile(times, 95),
        max: Math.max(...times),
        bytes,
      },
      boardAll: {
        p50: percentile(filtered, 50),
        p95: percentile(filtered, 95),
        bytes: filteredBytes,
      },
      sse: {
        samples: delays.length,
        p50: percentile(delays, 50),
        p99: percentile(delays, 99),
        max: Math.max(...delays),
      },
    };
  } finally {
    await c.close();
  }
}
