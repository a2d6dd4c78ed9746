/**
 * The engine alone against DBOS Transact on the same Postgres server: tickets/s for a whole ticket
 * lifecycle through applyEvent (create + every event from QUEUED to LIVE, each a durable,
 * journaled, fenced transition that enqueues its work) vs DBOS workflows/s for 8-step durable
 * workflows (each step checkpointed). 8 concurrent drivers each, for BENCH_SECONDS, two windows
 * each, alternated; the best window of each counts.
 */
import { randomBytes } from 'node:crypto';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { runStatement } from '../src/db/admin.js';
import { connect } from '../src/db/connection.js';
import { insertRepository } from '../src/db/repositories.js';
import { applyEvent } from '../src/engine/apply-event.js';
import { createTicket } from '../src/engine/create-ticket.js';
import type { BenchDb } from './bench-db.js';
import { type Figure, ratioOf } from './report.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const DRIVERS = 8;
const STEPS = 8;
const SHA = 'c'.repeat(64);
const COMMIT = 'd'.repeat(40);

/** The event that moves a ticket on from `state` on the happy path. */
function nextEvent(state: string, runId: string | null): Record<string, unknown> {
  const run = runId ? { runId } : {};
  switch (state) {
    case 'QUEUED':
      return { type: 'START' };
    case 'PLAN_DRAFT':
      return { type: 'PLAN_READY', ...run, artifactId: 1 };
    case 'PLAN_NEGOTIATE':
      return { type: 'PLAN_REVIEWED', ...run, verdict: 'APPROVE' };
    case 'PLAN_APPROVED':
      return { type: 'PLAN_FROZEN', ...run, artifactId: 1, sha256: SHA };
    case 'RED':
      return { type: 'RED_CONFIRMED', ...run };
    case 'BUILD':
      return { type: 'BUILD_READY', ...run };
    case 'VALIDATE':
      return { type: 'VERDICT', ...run, verdict: 'PASS' };
    default:
      return { type: 'UNEXPECTED', state };
  }
}

/** SHIP's substates take MERGED then LIVE_CHECK_PASSED. */
function shipEvent(merged: boolean, runId: string | null): Record<string, unknown> {
  return merged
    ? { type: 'LIVE_CHECK_PASSED', runId, evidence: 'bench' }
    : { type: 'MERGED', runId, commit: COMMIT };
}

async function engineDriver(url: string, deadline: number): Promise<number> {
  const handle = connect({ url, source: 'DATABASE_URL' }, 1);
  let done = 0;
  try {
    while (Date.now() < deadline) {
      const { key } = await createTicket(handle.db, { repo: 'bench', title: 'e', actor: 'bench' });
      let state = 'QUEUED';
      let runId: string | null = null;
      let merged = false;
      while (state !== 'LIVE') {
        const event = state === 'SHIP' ? shipEvent(merged, runId) : nextEvent(state, runId);
        const outcome = await applyEvent(handle.db, key, event as never, { actor: 'bench' });
        if (outcome.status !== 'applied')
          throw new Error(
            `engine bench: ${event.type} refused in ${state}: ${JSON.stringify(outcome)}`,
          );
        if (event.type === 'MERGED') merged = true;
        state = outcome.toState;
        runId = outcome.runId ?? null;
      }
      done++;
    }
  } finally {
    await handle.close();
  }
  return done;
}

async function engineTicketsPerSecond(bench: BenchDb): Promise<{ rate: number; tickets: number }> {
  await insertRepository(bench.db, {
    name: 'bench',
    path: '/bench',
    settings: JSON.stringify({}),
  }).catch(() => undefined);
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  const counts = await Promise.all(
    Array.from({ length: DRIVERS }, () => engineDriver(bench.url, deadline)),
  );
  const seconds = (Date.now() - started) / 1000;
  const tickets = counts.reduce((a, b) => a + b, 0);
  return { rate: tickets / seconds, tickets };
}

/** A DBOS system database of its own, the 8-step workflow registered; `run` times one window. */
async function createDbosBench(serverUrl: string) {
  const name = `lw_bench_dbos_${randomBytes(4).toString('hex')}`;
  await runStatement(serverUrl, `create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const eightSteps = DBOS.registerWorkflow(
    async (n: number) => {
      let acc = n;
      for (let i = 0; i < STEPS; i++) {
        acc = await DBOS.runStep(async () => acc + 1, { name: `step${i}` });
      }
      return acc;
    },
    { name: 'eightSteps' },
  );
  DBOS.setConfig({
    name: 'lw-bench',
    systemDatabaseUrl: url.toString(),
    systemDatabasePoolSize: DRIVERS + 2,
    logLevel: 'error',
  });
  return {
    /** Workflows per second for one window (DBOS is launched for it and shut down after). */
    async run(): Promise<number> {
      await DBOS.launch();
      try {
        const started = Date.now();
        const deadline = started + SECONDS * 1000;
        const counts = await Promise.all(
          Array.from({ length: DRIVERS }, async () => {
            let n = 0;
            while (Date.now() < deadline) {
              if ((await eightSteps(n)) !== n + STEPS) throw new Error('dbos bench: wrong result');
              n++;
            }
            return n;
          }),
        );
        return counts.reduce((a, b) => a + b, 0) / ((Date.now() - started) / 1000);
      } finally {
        await DBOS.shutdown();
      }
    },
    drop: () => runStatement(serverUrl, `drop database if exists ${name} with (force)`),
  };
}

export async function benchEngineVsDbos(bench: BenchDb, serverUrl: string): Promise<Figure[]> {
  const dbos = await createDbosBench(serverUrl);
  let engine: { rate: number; tickets: number }[];
  let workflows: number[];
  try {
    // Alternate the two contenders so drift on a shared machine hits both alike; keep the best
    // of two windows each.
    engine = [await engineTicketsPerSecond(bench)];
    workflows = [await dbos.run()];
    engine.push(await engineTicketsPerSecond(bench));
    workflows.push(await dbos.run());
  } finally {
    await dbos.drop();
  }
  const { rows } = await bench.pool.query<{ n: string }>(
    'select count(*) as n from loopwright.ticket_events',
  );
  const tickets = engine.reduce((a, e) => a + e.tickets, 0);
  const events = Math.round(Number(rows[0]!.n) / Math.max(1, tickets));
  const rate = Math.max(...engine.map((e) => e.rate));
  const baseline = Math.max(...workflows);
  const ratio = ratioOf(rate, baseline);
  return [
    {
      name: `engine-only ticket lifecycle (${events} journaled events each, ${DRIVERS} drivers)`,
      value: rate,
      unit: '/s',
      baseline: { name: `DBOS ${STEPS}-step durable workflows`, value: baseline },
      ratio,
      target: { text: '>= 1.0x', met: ratio >= 1 },
    },
  ];
}
