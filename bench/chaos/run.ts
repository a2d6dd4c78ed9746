/**
 * `npm run chaos`: the chaos suite. Options: `--short` (CI: 30 tickets, 20 cycles, a few
 * minutes), `--cycles N`, `--tickets N`, `--repos N`, `--orchestrators N` (2–3), `--seed N`,
 * `--sandbox bwrap|none` (default: bwrap when it works here), `--keep`, `--json`. Prints each
 * cycle, then the invariant table; exits 1 when an invariant fails, 2 on bad options.
 */
import { parseArgs } from 'node:util';
import { detectSandbox } from '../../src/agents/sandbox/detect.js';
import { type ChaosOptions, runChaos } from './driver.js';
import { formatTable } from './invariants.js';

class OptionError extends Error {}

function integer(name: string, value: string | undefined, min: number, max: number) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new OptionError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

async function parse(argv: string[]): Promise<{ options: ChaosOptions; json: boolean }> {
  const { values } = parseArgs({
    args: argv,
    options: {
      short: { type: 'boolean' },
      cycles: { type: 'string' },
      tickets: { type: 'string' },
      repos: { type: 'string' },
      orchestrators: { type: 'string' },
      seed: { type: 'string' },
      sandbox: { type: 'string' },
      keep: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (values.sandbox !== undefined && values.sandbox !== 'bwrap' && values.sandbox !== 'none')
    throw new OptionError(`--sandbox must be bwrap or none, got "${values.sandbox}"`);
  const short = values.short === true;
  const sandbox =
    (values.sandbox as 'bwrap' | 'none' | undefined) ??
    ((await detectSandbox()).available ? 'bwrap' : 'none');
  const options: ChaosOptions = {
    cycles: integer('cycles', values.cycles, 1, 10_000) ?? (short ? 20 : 40),
    tickets: integer('tickets', values.tickets, 3, 1000) ?? (short ? 30 : 33),
    repos: integer('repos', values.repos, 1, 20) ?? 3,
    orchestrators: integer('orchestrators', values.orchestrators, 1, 3) ?? 3,
    seed: integer('seed', values.seed, 0, 2 ** 31) ?? Math.floor(Math.random() * 2 ** 31),
    sandbox,
    agentSleepMs: short ? 300 : 1500,
    momentMs: short ? 8000 : 20_000,
    settleSeconds: short ? 200 : 600,
    gapMs: short ? 300 : 1500,
    keep: values.keep === true,
    progress: (line) => process.stderr.write(`chaos: ${line}\n`),
  };
  return { options, json: values.json === true };
}

async function main(): Promise<number> {
  let parsed: Awaited<ReturnType<typeof parse>>;
  try {
    parsed = await parse(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`chaos: ${(error as Error).message}\n`);
    return 2;
  }
  const { options, json } = parsed;
  process.stderr.write(
    `chaos: seed ${options.seed}, ${options.cycles} cycles, ${options.tickets} tickets, ` +
      `${options.orchestrators} orchestrators, sandbox ${options.sandbox}\n`,
  );
  const result = await runChaos(options);
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const kinds = new Map<string, number>();
    for (const c of result.cycles.filter((c) => c.landed))
      kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
    process.stdout.write(
      `\nchaos seed ${result.seed}: ${result.seconds} s, ${result.orchestratorStarts} ` +
        `orchestrator starts, tickets ${JSON.stringify(result.states)}\n` +
        `faults: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}\n\n` +
        `${formatTable(result.invariants)}\n\n` +
        `chaos: ${result.ok ? 'all invariants hold' : 'INVARIANTS FAILED'}\n`,
    );
  }
  return result.ok ? 0 : 1;
}

process.exitCode = await main();
