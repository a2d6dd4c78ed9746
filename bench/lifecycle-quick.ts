/**
 * The lifecycle section alone, beside its bash baseline, for iterating on per-ticket overhead:
 * `tsc -p tsconfig.bench.json && BENCH_WORKERS=1 node dist/bench/lifecycle-quick.js`.
 * Prints seconds per ticket vs the bash loop, git spawns per ticket by subcommand, queries;
 * BENCH_LARGE_FILES=N adds the same on a repository of N extra files; BENCH_INHERITED=1 also times
 * the bash loop with this process's whole environment.
 */
import { benchBaselines } from './bash-baseline.js';
import { createBenchDb } from './bench-db.js';
import { benchLargeRepo, benchLifecycleBeside } from './lifecycle.js';
import { withGitCounter } from './git-counter.js';

const bench = await createBenchDb();
try {
  const { lifecycle, baselines } = await withGitCounter((counter) =>
    benchLifecycleBeside(bench, counter, { alsoInherited: process.env.BENCH_INHERITED === '1' }),
  );
  const one = lifecycle.rows[0]!;
  const files = Number(process.env.BENCH_LARGE_FILES ?? 0);
  if (files > 0) {
    const tickets = Number(process.env.BENCH_LARGE_TICKETS ?? 4);
    const large = await withGitCounter(async (counter) => ({
      ours: await benchLargeRepo(bench, counter, files, tickets),
      bash: await benchBaselines(tickets, counter, files),
    }));
    console.log(
      `${files}-file repo: s/ticket ${large.ours.secondsPerTicket.toFixed(3)} vs bash ` +
        `${large.bash.bashSecondsPerTicket.toFixed(3)} ` +
        `(${(large.ours.secondsPerTicket / large.bash.bashSecondsPerTicket).toFixed(2)}x); ` +
        `git spawns/ticket ${large.ours.gitSpawns} vs bash ${large.bash.bashGitSpawnsPerTicket}`,
    );
  }
  // From the unrounded time: at a fraction of a ticket per second the rounded rate is coarse.
  const perTicket = one.seconds / one.tickets;
  for (const r of lifecycle.rows)
    console.log(`${r.workers} worker(s): ${r.ticketsPerSecond} tickets/s (${r.seconds} s)`);
  console.log(
    `s/ticket ${perTicket.toFixed(3)} vs bash ${baselines.bashSecondsPerTicket.toFixed(3)}` +
      ` (${(perTicket / baselines.bashSecondsPerTicket).toFixed(2)}x;` +
      ` bash before/after ${baselines.bashRuns.map((x) => x.toFixed(3)).join('/')}),` +
      ` floor ${baselines.floorSecondsPerTicket.toFixed(3)};` +
      (baselines.bashInheritedSecondsPerTicket
        ? ` bash, caller's environment ${baselines.bashInheritedSecondsPerTicket.toFixed(3)};`
        : '') +
      ` bash git spawns/ticket ${baselines.bashGitSpawnsPerTicket}`,
  );
  console.log(JSON.stringify(lifecycle.perTicket));
  // BENCH_TIMELINE=1: ticket w1-2; BENCH_TIMELINE=<key>: that ticket (e.g. large-2).
  const timelineKey = process.env.BENCH_TIMELINE === '1' ? 'w1-2' : process.env.BENCH_TIMELINE;
  if (timelineKey) {
    const { rows } = await bench.pool.query(
      `
      select e.seq, e.event_type, e.to_state,
        round(extract(epoch from e.created_at - lag(e.created_at) over (order by e.seq)) * 1000)
          as ms
      from loopwright.ticket_events e join loopwright.tickets t on t.id = e.ticket_id
      where t.key = $1 order by e.seq`,
      [timelineKey],
    );
    for (const r of rows) console.log(`${r.seq} ${r.event_type} -> ${r.to_state} +${r.ms} ms`);
    const runs = await bench.pool.query(
      `
      select r.phase, round(extract(epoch from r.started_at - r.created_at) * 1000) as to_start,
        round(extract(epoch from r.finished_at - r.started_at) * 1000) as run_ms
      from loopwright.agent_runs r join loopwright.tickets t on t.id = r.ticket_id
      where t.key = $1 order by r.created_at`,
      [timelineKey],
    );
    for (const r of runs.rows)
      console.log(`run ${r.phase}: start +${r.to_start} ms, ran ${r.run_ms} ms`);
  }
} finally {
  await bench.drop();
}
