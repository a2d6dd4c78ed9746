/**
 * `npm run bench -- --quick`: shorter windows and fewer tickets, for a first look or a loaded
 * machine (the figures get noisier). Imported first by run.ts, so the benchmarks' constants see
 * it; an explicit BENCH_* variable still wins.
 */
const QUICK: Readonly<Record<string, string>> = {
  BENCH_SECONDS: '2',
  BENCH_TICKETS: '4',
  BENCH_CHAIN: '3',
  BENCH_IDLE_SECONDS: '10',
  BENCH_CLI_RUNS: '5',
};

export const quick = process.argv.includes('--quick');
if (quick) for (const [name, value] of Object.entries(QUICK)) process.env[name] ??= value;
