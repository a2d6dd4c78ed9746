/**
 * `npm run bench`: every benchmark, side by side in one run on one database, printing figures
 * (ratios measured together, not absolute targets). Uses the database loopwright would use.
 */
import { createBenchDb } from './bench-db.js';
import { benchEngineThroughput } from './engine-throughput.js';

async function main() {
  const bench = await createBenchDb();
  try {
    console.log(`# loopwright bench (${bench.target.source}, ${process.env.BENCH_SECONDS ?? 4}s per measurement)`);
    console.log('\n## applyEvent vs bare SQL (events/s; same row work; each client its own ticket)');
    console.log('clients  engine/s  bare-sql/s  ratio  target');
    for (const row of await benchEngineThroughput(bench)) {
      const target = row.clients === 8 ? (row.ratio >= 0.5 ? '>=0.5 ok' : '>=0.5 MISSED') : '';
      console.log(`${String(row.clients).padStart(7)}  ${String(row.engine).padStart(8)}  ${String(row.bare).padStart(10)}  ${row.ratio.toFixed(2).padStart(5)}  ${target}`);
    }
  } finally {
    await bench.drop();
  }
}

await main();
