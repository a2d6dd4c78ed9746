/**
 * `npm run bench`: every benchmark, side by side in one run on one database, printing figures
 * (ratios measured together, not absolute targets). Uses the database loopwright would use.
 */
import { createBenchDb } from './bench-db.js';
import { benchEngineThroughput } from './engine-throughput.js';
import { benchLifecycle } from './lifecycle.js';

async function main() {
  const bench = await createBenchDb();
  try {
    console.log(
      `# loopwright bench (${bench.target.source}, ${process.env.BENCH_SECONDS ?? 4}s per measurement)`,
    );
    console.log(
      '\n## applyEvent vs bare SQL (events/s; same row work; each client its own ticket)',
    );
    console.log('clients  engine/s  bare-sql/s  ratio  target');
    for (const row of await benchEngineThroughput(bench)) {
      const target = row.clients === 8 ? (row.ratio >= 0.5 ? '>=0.5 ok' : '>=0.5 MISSED') : '';
      console.log(
        `${String(row.clients).padStart(7)}  ${String(row.engine).padStart(8)}  ${String(row.bare).padStart(10)}  ${row.ratio.toFixed(2).padStart(5)}  ${target}`,
      );
    }
  } finally {
    await bench.drop();
  }
  // A database of its own: the engine benchmark leaves thousands of queued jobs for a fake repo.
  const lifecycleDb = await createBenchDb();
  try {
    console.log(
      '\n## full lifecycle with instant scripted agents (plan..LIVE; shell test command)',
    );
    const lifecycle = await benchLifecycle(lifecycleDb);
    console.log('workers  tickets  seconds  tickets/s  ratio-vs-1');
    const base = lifecycle.rows[0]!.ticketsPerSecond;
    for (const r of lifecycle.rows) {
      console.log(
        `${String(r.workers).padStart(7)}  ${String(r.tickets).padStart(7)}  ${r.seconds.toFixed(2).padStart(7)}  ${r.ticketsPerSecond.toFixed(2).padStart(9)}  ${(r.ticketsPerSecond / base).toFixed(2).padStart(10)}`,
      );
    }
    console.log(
      `dependency LIVE -> dependent START: median ${lifecycle.dependencyDelayMs.median} ms over ${lifecycle.dependencyDelayMs.samples} hand-offs (target < 1000 ms)`,
    );
  } finally {
    await lifecycleDb.drop();
  }
}

await main();
