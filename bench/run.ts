/**
 * `npm run bench`: every benchmark, side by side in one run on one database server, each figure
 * printed beside the baseline measured with it, and the whole report written to docs/bench.md.
 * Uses the database loopwright would use (LOOPWRIGHT_DATABASE_URL / DATABASE_URL / embedded).
 */
// First: --quick sets the BENCH_* defaults before the benchmarks read them.
import { quick } from './quick.js';
import { packageRoot } from '../src/config/package-root.js';
import { type BenchDb, createBenchDb } from './bench-db.js';
import { benchBaselines, nodeStartVariables } from './bash-baseline.js';
import { benchCliStart } from './cli-start.js';
import { benchConsole } from './console.js';
import { benchEngineThroughput } from './engine-throughput.js';
import { benchEngineVsDbos } from './engine-vs-dbos.js';
import { benchIdleRun } from './idle-run.js';
import { benchLargeRepo, benchLifecycleBeside } from './lifecycle.js';
import { withGitCounter } from './git-counter.js';
import { benchRecovery } from './recovery.js';
import { BenchReport, machineFacts } from './report.js';
import { benchSandboxCost } from './sandbox-cost.js';

/** The second lifecycle workload: a checkout the size of a real project's (~4 MiB). */
const LARGE_REPO_FILES = Number(process.env.BENCH_LARGE_FILES ?? 2000);
const LARGE_REPO_TICKETS = Number(process.env.BENCH_LARGE_TICKETS ?? 4);

/**
 * A fresh database per section: one section's leftovers (queued jobs, tickets) never slow another.
 */
async function withDb<T>(fn: (bench: BenchDb) => Promise<T>): Promise<T> {
  const bench = await createBenchDb();
  try {
    return await fn(bench);
  } finally {
    await bench.drop();
  }
}

type SectionRun = (report: BenchReport) => Promise<void>;

/** The report's sections in order, by the name `--only` selects them with. */
const SECTIONS: Record<string, SectionRun> = {
  engine: (report) =>
    withDb(async (bench) => {
      const rows = await benchEngineThroughput(bench);
      report.add({
        title: 'applyEvent vs bare SQL',
        note:
          'Events/s; the bare side does the same row work (lock, idempotency, journal, ' +
          'ticket, run, add_jobs) without xstate, zod or kysely, as a lock and a write. The ' +
          'engine writes an event of a ticket it moved last in one fenced statement (no lock ' +
          'first) and announces it after the commit, where the bare side calls add_jobs, whose ' +
          'NOTIFY makes commits take turns; so it can pass the bare side.',
        figures: rows.map((r) => ({
          name: `${r.clients} client(s)`,
          value: r.engine,
          unit: 'events/s',
          baseline: { name: 'bare SQL', value: r.bare },
          ratio: r.ratio,
          ...(r.clients === 8 ? { target: { text: '>= 0.9x', met: r.ratio >= 0.9 } } : {}),
        })),
      });
    }),

  dbos: (report) =>
    withDb(async (bench) => {
      report.add({
        title: 'Engine-only lifecycle vs DBOS Transact',
        note: 'Same Postgres server; DBOS keeps its system database in a database of its own.',
        figures: await benchEngineVsDbos(bench, bench.serverUrl),
      });
    }),

  lifecycle: (report) =>
    withDb(async (bench) => {
      const { lifecycle, baselines, large, largeBash } = await withGitCounter(async (counter) => {
        const { lifecycle, baselines } = await benchLifecycleBeside(bench, counter, {
          alsoInherited: true,
        });
        const large = await benchLargeRepo(bench, counter, LARGE_REPO_FILES, LARGE_REPO_TICKETS);
        const largeBash = await benchBaselines(LARGE_REPO_TICKETS, counter, LARGE_REPO_FILES);
        return { lifecycle, baselines, large, largeBash };
      });
      const largeVsBash =
        Math.round((large.secondsPerTicket / largeBash.bashSecondsPerTicket) * 100) / 100;
      const base = lifecycle.rows[0]!.ticketsPerSecond;
      const perTicket = Math.round(lifecycle.rows[0]!.secondsPerTicket * 1000) / 1000;
      const vsBash = Math.round((perTicket / baselines.bashSecondsPerTicket) * 100) / 100;
      report.add({
        title: 'Full lifecycle with instant scripted agents',
        note:
          'Plan, critique, freeze, RED, BUILD, VALIDATE, merge, live check; ' +
          'shell test command. The bash loop and the floor run their agents with the ' +
          'environment loopwright gives its agents (the same processes on both sides); the row ' +
          "with the caller's whole environment shows what that is worth here. " +
          'The bash loop and the floor are timed just before and just after the 1-worker run ' +
          `and their means are the baselines (bash loop ${baselines.bashRuns
            .map((x) => `${x.toFixed(2)} s`)
            .join(' and ')} here), so that drift of a shared machine between them cancels. ` +
          'Git spawns per ticket by subcommand (1 worker): ' +
          `${Object.entries(lifecycle.perTicket.gitBySubcommand)
            .map(([sub, n]) => `${sub} ${n}`)
            .join(', ')} ` +
          '(LOOPWRIGHT_GIT_TRACE=1 BENCH_GIT_LOG=file adds each call site).',
        figures: [
          ...lifecycle.rows.map((r, i) => {
            const ratio = Math.round((r.ticketsPerSecond / base) * 100) / 100;
            const previous = lifecycle.rows[i - 1]?.ticketsPerSecond ?? 0;
            const target =
              r.workers === 2
                ? { text: '>= 1.6x', met: ratio >= 1.6 }
                : r.workers === 4
                  ? { text: '>= the 2-worker rate', met: r.ticketsPerSecond >= previous }
                  : undefined;
            return {
              name: `${r.workers} worker(s), ${r.tickets} tickets, all LIVE`,
              value: r.ticketsPerSecond,
              unit: 'tickets/s',
              baseline: { name: '1 worker', value: base },
              ratio,
              ...(target ? { target } : {}),
            };
          }),
          {
            name: 'seconds per ticket at 1 worker',
            value: perTicket,
            unit: 's',
            baseline: {
              name: 'bash loop (bench/bash-loop.sh)',
              value: baselines.bashSecondsPerTicket,
            },
            ratio: vsBash,
            target: { text: '<= 1.1x', met: vsBash <= 1.1 },
          },
          {
            name: 'seconds per ticket at 1 worker',
            value: perTicket,
            unit: 's',
            baseline: {
              name: `bash loop, agents with the caller's whole environment${inheritedNote()}`,
              value: baselines.bashInheritedSecondsPerTicket!,
            },
            ratio: Math.round((perTicket / baselines.bashInheritedSecondsPerTicket!) * 100) / 100,
          },
          {
            name: 'seconds per ticket at 1 worker',
            value: perTicket,
            unit: 's',
            baseline: { name: 'bare subprocess floor', value: baselines.floorSecondsPerTicket },
            ratio: Math.round((perTicket / baselines.floorSecondsPerTicket) * 100) / 100,
          },
          {
            name: 'git spawns per ticket (1 worker)',
            value: lifecycle.perTicket.gitSpawns,
            unit: '',
            baseline: { name: 'bash loop', value: baselines.bashGitSpawnsPerTicket },
            target: { text: '<= 30', met: lifecycle.perTicket.gitSpawns <= 30 },
          },
          { name: 'queries per ticket (1 worker)', value: lifecycle.perTicket.queries, unit: '' },
          {
            name: `seconds per ticket, ${LARGE_REPO_FILES}-file repository (1 worker)`,
            value: Math.round(large.secondsPerTicket * 1000) / 1000,
            unit: 's',
            baseline: {
              name: 'bash loop, same repository',
              value: largeBash.bashSecondsPerTicket,
            },
            ratio: largeVsBash,
          },
          {
            name: `git spawns per ticket, ${LARGE_REPO_FILES}-file repository`,
            value: large.gitSpawns,
            unit: '',
            baseline: { name: 'bash loop', value: largeBash.bashGitSpawnsPerTicket },
          },
          {
            name:
              `dispatch p50 (journal row -> agent process ` +
              `started; ${lifecycle.perTicket.dispatchMs.samples} runs)`,
            value: lifecycle.perTicket.dispatchMs.p50,
            unit: 'ms',
            target: { text: '<= 20 ms', met: lifecycle.perTicket.dispatchMs.p50 <= 20 },
          },
          {
            name: 'dispatch p99',
            value: lifecycle.perTicket.dispatchMs.p99,
            unit: 'ms',
            target: { text: '<= 60 ms', met: lifecycle.perTicket.dispatchMs.p99 <= 60 },
          },
          {
            name: 'dependency LIVE -> dependent START (median)',
            value: lifecycle.dependencyDelayMs.median,
            unit: 'ms',
            target: {
              text: '< 1000 ms',
              met: lifecycle.dependencyDelayMs.median < 1000,
            },
          },
        ],
      });
    }),

  cli: (report) =>
    withDb(async (bench) => {
      report.add({
        title: 'CLI start-up',
        note:
          'Whole processes, alternating, medians; the CLI on DATABASE_URL with an ' +
          'up-to-date schema.',
        figures: await benchCliStart(bench.url),
      });
    }),

  recovery: (report) =>
    withDb(async (bench) => {
      report.add({
        title: 'Recovery after SIGKILL',
        note:
          'Real `loopwright run` processes on DATABASE_URL; the next run sweeps the dead pool at ' +
          'start (same host: its process is gone), reaps its agent and re-dispatches the run.',
        figures: await benchRecovery(bench),
      });
    }),
  idle: (report) =>
    withDb((ours) =>
      withDb((bare) =>
        withDb(async (watcher) => {
          report.add({
            title: 'Idle `run`',
            note:
              'No tickets; each process on an empty database of its own, measured over ' +
              'the same window.',
            figures: await benchIdleRun(ours, bare, watcher),
          });
        }),
      ),
    ),

  sandbox: async (report) =>
    report.add({
      title: 'Sandbox cost per agent run',
      note:
        'The same trivial command through the one process-group runner, sandbox none vs ' +
        'bwrap (namespaces, mounts, private /tmp and HOME, setpriv as root), alternating, medians.',
      figures: await benchSandboxCost(),
    }),

  console: (report) =>
    withDb(async (bench) => {
      const r = await benchConsole(bench);
      report.add({
        title: 'Console',
        note:
          `${r.tickets.toLocaleString('en-US')} tickets across 20 repositories seeded ` +
          `directly, 40 running agents; board = the whole GET / (SQL, render, 50 newest cards ` +
          `per column); events = commit of a journal row -> its card on an open SSE stream.`,
        figures: [
          { name: 'board GET / p50', value: r.board.p50, unit: 'ms' },
          {
            name: 'board GET / p95',
            value: r.board.p95,
            unit: 'ms',
            target: { text: '< 100 ms', met: r.board.p95 < 100 },
          },
          {
            name: 'board GET /?repo=R p50 (500 tickets, every card)',
            value: r.boardAll.p50,
            unit: 'ms',
          },
          {
            name: `event -> open page p50 (${r.sse.samples} events)`,
            value: r.sse.p50,
            unit: 'ms',
          },
          {
            name: 'event -> open page p99',
            value: r.sse.p99,
            unit: 'ms',
            target: { text: '< 250 ms', met: r.sse.p99 < 250 },
          },
        ],
      });
    }),
};

async function main() {
  const only = option('--only')?.split(',');
  const unknown = only?.filter((name) => !(name in SECTIONS)) ?? [];
  if (unknown.length > 0) {
    console.error(
      `bench: unknown section ${unknown.join(', ')} (${Object.keys(SECTIONS).join(', ')})`,
    );
    process.exit(2);
  }
  const report = await withDb(async (bench) => {
    const { rows } = await bench.pool.query<{ v: string }>(
      "select current_setting('server_version') as v",
    );
    return new BenchReport(machineFacts(`PostgreSQL ${rows[0]!.v}`, bench.target.source));
  });
  console.log(`# loopwright bench (${report.machine.database}, ${report.machine.postgres})`);
  const started = performance.now();
  for (const [name, run] of Object.entries(SECTIONS)) {
    if (only && !only.includes(name)) continue;
    const t = performance.now();
    await run(report);
    console.log(`\n(${name}: ${((performance.now() - t) / 1000).toFixed(0)} s)`);
  }
  const minutes = (performance.now() - started) / 60_000;
  console.log(`\nbench took ${minutes.toFixed(1)} min${quick ? ' (--quick)' : ''}`);
  // A partial run prints; only the whole report replaces docs/bench.md.
  if (only) return;
  const file = await report.write(packageRoot());
  console.log(`\nwrote ${file}`);
}

/** `--name value` or `--name=value` from the command line. */
function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const eq = args.find((a) => a.startsWith(`${name}=`));
  if (eq) return eq.slice(name.length + 1);
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

await main();

/** ` (NODE_EXTRA_CA_CERTS set)`: the variables here that slow every Node start of the baseline. */
function inheritedNote(): string {
  const names = nodeStartVariables();
  return names.length ? ` (${names.join(', ')} set)` : '';
}
