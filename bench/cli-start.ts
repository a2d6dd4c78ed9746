/**
 * CLI start-up as a whole process: `loopwright status` against node + pg running the same two
 * queries, and `loopwright --help` against a bare `node -e 0`. Runs alternate A B A B so drift
 * hits both alike; medians of wall time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../src/config/package-root.js';
import { type Figure, percentile, ratioOf } from './report.js';

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 9);

const NODE_PG_STATUS = (pgPath: string) => `
import pg from ${JSON.stringify(pgPath)};
const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
await c.connect();
await Promise.all([
  c.query('select * from loopwright.repositories order by name'),
  c.query(\`select r.name as repo, t.state, count(*) from loopwright.tickets t
    join loopwright.repositories r on r.id = t.repo_id group by 1, 2 order by 1, 2\`),
]);
await c.end();
`;

/** Whole-process wall milliseconds of each command, alternating, after one warm-up of each. */
function alternate(a: readonly string[], b: readonly string[], env: NodeJS.ProcessEnv) {
  const times = { a: [] as number[], b: [] as number[] };
  const once = (argv: readonly string[]) => {
    const started = performance.now();
    const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
    return performance.now() - started;
  };
  once(a);
  once(b);
  for (let i = 0; i < RUNS; i++) {
    times.a.push(once(a));
    times.b.push(once(b));
  }
  return { a: percentile(times.a, 50), b: percentile(times.b, 50) };
}

export async function benchCliStart(databaseUrl: string): Promise<Figure[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lw-bench-cli-'));
  try {
    const baseline = path.join(dir, 'node-pg-status.mjs');
    const pgPath = createRequire(import.meta.url).resolve('pg');
    await writeFile(baseline, NODE_PG_STATUS(pgPath));
    const bin = path.join(packageRoot(), 'bin', 'loopwright.js');
    const { LOOPWRIGHT_DATABASE_URL: _ignored, ...rest } = process.env;
    const env = { ...rest, DATABASE_URL: databaseUrl };
    const status = alternate([process.execPath, bin, 'status'], [process.execPath, baseline], env);
    const help = alternate([process.execPath, bin, '--help'], [process.execPath, '-e', '0'], env);
    const statusRatio = ratioOf(status.a, status.b);
    return [
      {
        name: '`loopwright status` (whole process, median)',
        value: status.a,
        unit: 'ms',
        baseline: { name: 'node + pg, same queries', value: status.b },
        ratio: statusRatio,
        target: { text: '<= 1.5x', met: statusRatio <= 1.5 },
      },
      {
        name: '`loopwright --help` (whole process, median)',
        value: help.a,
        unit: 'ms',
        baseline: { name: 'node -e 0', value: help.b },
        ratio: ratioOf(help.a, help.b),
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
