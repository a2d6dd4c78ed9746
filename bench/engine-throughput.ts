/**
 * Events per second through applyEvent at 1 and 8 concurrent clients, against a bare SQL
 * transaction doing the same row work (lock, idempotency look-ups, journal insert, ticket update,
 * run row, add_jobs) without xstate, zod or kysely. Each client drives its own ticket around the
 * BUILD -> VALIDATE -> BUILD loop (every event dispatches an agent job), so the outbox is
 * exercised. Each client's ticket is one its process moved last, so applyEvent takes its
 * one-statement way (src/engine/known-tickets.ts); the bare side keeps the lock and the write,
 * and graphile-worker's add_jobs with the NOTIFY inside the transaction, as a first hand-written
 * version would (the engine announces after its commit: src/db/announce.ts).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { applyEvent } from '../src/engine/apply-event.js';
import { createTicket } from '../src/engine/create-ticket.js';
import { insertRepository } from '../src/db/repositories.js';
import { getTicket } from '../src/db/tickets.js';
import { connect } from '../src/db/connection.js';
import type { BenchDb } from './bench-db.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const SHA = 'b'.repeat(64);

export interface ThroughputRow {
  readonly clients: number;
  readonly engine: number;
  readonly bare: number;
  readonly ratio: number;
}

export async function benchEngineThroughput(bench: BenchDb): Promise<ThroughputRow[]> {
  await insertRepository(bench.db, {
    name: 'bench',
    path: '/bench',
    settings: JSON.stringify({ limits: { maxAttempts: 1_000_000_000 } }),
  });
  const rows: ThroughputRow[] = [];
  for (const clients of [1, 8]) {
    const tickets = await Promise.all(Array.from({ length: clients }, () => ticketInBuild(bench)));
    // Alternate the two contenders so drift (autovacuum, cache) hits both alike; keep the best of
    // two.
    const bare = await timed(clients, (i) => bareLoop(bench.url, tickets[i]!));
    const engine = await timed(clients, (i) => engineLoop(bench.url, tickets[i]!));
    const bare2 = await timed(clients, (i) => bareLoop(bench.url, tickets[i]!));
    const engine2 = await timed(clients, (i) => engineLoop(bench.url, tickets[i]!));
    const e = Math.max(engine, engine2);
    const b = Math.max(bare, bare2);
    rows.push({
      clients,
      engine: round(e),
      bare: round(b),
      ratio: Math.round((e / b) * 100) / 100,
    });
  }
  return rows;
}

async function ticketInBuild(bench: BenchDb): Promise<string> {
  const { key } = await createTicket(bench.db, { repo: 'bench', title: 'bench', actor: 'bench' });
  const run = async (event: Record<string, unknown>) => {
    const runId = (await getTicket(bench.db, key)).current_run_id;
    await applyEvent(bench.db, key, { ...event, ...(runId ? { runId } : {}) } as never, {
      actor: 'bench',
    });
  };
  await run({ type: 'START' });
  await run({ type: 'PLAN_READY', artifactId: 1 });
  await run({ type: 'PLAN_REVIEWED', verdict: 'APPROVE' });
  await run({ type: 'PLAN_FROZEN', artifactId: 1, sha256: SHA });
  await run({ type: 'RED_CONFIRMED' });
  return key;
}

/** Run `loop` on `clients` connections for SECONDS; events per second across all of them. */
async function timed(
  clients: number,
  loop: (i: number) => (deadline: number) => Promise<number>,
): Promise<number> {
  const deadline = Date.now() + SECONDS * 1000;
  const started = Date.now();
  const counts = await Promise.all(Array.from({ length: clients }, (_, i) => loop(i)(deadline)));
  return counts.reduce((a, b) => a + b, 0) / ((Date.now() - started) / 1000);
}

function engineLoop(url: string, key: string) {
  return async (deadline: number) => {
    const client = connect({ url, source: 'DATABASE_URL' }, 1);
    let n = 0;
    try {
      let runId = (await getTicket(client.db, key)).current_run_id!;
      let state = (await getTicket(client.db, key)).state;
      while (Date.now() < deadline) {
        const event =
          state === 'BUILD'
            ? { type: 'BUILD_READY', runId }
            : { type: 'VERDICT', runId, verdict: 'FAIL', findings: ['again'] };
        const outcome = await applyEvent(client.db, key, event as never, {
          actor: 'bench',
          idempotencyKey: randomUUID(),
        });
        if (outcome.status !== 'applied')
          throw new Error(`bench event refused: ${JSON.stringify(outcome)}`);
        runId = outcome.runId!;
        state = outcome.toState;
        n++;
      }
    } finally {
      await client.close();
    }
    return n;
  };
}

/** The same rows, written by hand: what the engine's bookkeeping costs on top of the SQL. */
function bareLoop(url: string, key: string) {
  return async (deadline: number) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    let n = 0;
    try {
      while (Date.now() < deadline) {
        await bareTransaction(client, key, randomUUID());
        n++;
      }
    } finally {
      await client.end();
    }
    return n;
  };
}

async function bareTransaction(client: pg.Client, key: string, idem: string) {
  await client.query('begin isolation level read committed');
  const { rows } = await client.query(
    'select id, version, state, snapshot from loopwright.tickets where key = $1 for update',
    [key],
  );
  const t = rows[0];
  await client.query(
    'select 1 from loopwright.ticket_events where ticket_id = $1 and idempotency_key = $2',
    [t.id, idem],
  );
  await client.query(
    'select 1 from loopwright.rejected_events where ticket_id = $1 and idempotency_key = $2',
    [t.id, idem],
  );
  const seq = t.version + 1;
  const runId = randomUUID();
  const snapshot = JSON.stringify(t.snapshot);
  await client.query(
    'insert into loopwright.agent_runs (id, ticket_id, seq, role, phase) values ' +
      '($1, $2, $3, $4, $5)',
    [runId, t.id, seq, 'generator', 'build'],
  );
  await client.query(
    `insert into loopwright.ticket_events (ticket_id, seq, event_type, event, from_state,
      to_state, actor, idempotency_key, snapshot, actions)
     values ($1, $2, 'BARE', '{}', $3, $3, 'bench', $4, $5, '[]')`,
    [t.id, seq, t.state, idem, snapshot],
  );
  await client.query(
    'update loopwright.tickets set snapshot = $2, version = $3, current_run_id = $4, ' +
      'updated_at = now() where id = $1',
    [t.id, snapshot, seq, runId],
  );
  await client.query(
    `select graphile_worker.add_jobs(array[row('agent_run', $1::json, null, now(), 5, $2, 0, ` +
      `null)::graphile_worker.job_spec])`,
    [JSON.stringify({ ticketId: t.id, seq, runId }), `lw:${t.id}:r:${seq}:0`],
  );
  await client.query('commit');
}

const round = (x: number) => Math.round(x);
