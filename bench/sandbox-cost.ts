/**
 * Sandbox cost per agent run: the same trivial command through the one process-group runner,
 * plain (`none`) and under bubblewrap (`bwrap`: namespaces, mounts, private /tmp + HOME, setpriv
 * as root), alternating, medians. The difference is what every agent and gate run pays.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { detectSandbox, grantToSandbox, type SandboxSpec } from '../src/agents/sandbox/index.js';
import { runProcessGroup } from '../src/agents/spawn-group.js';
import { type Figure, percentile } from './report.js';

const RUNS = 40;

async function once(cwd: string, sandbox: SandboxSpec): Promise<number> {
  const started = performance.now();
  const result = await runProcessGroup({
    argv: ['/bin/true'],
    cwd,
    env: { PATH: '/usr/bin:/bin' },
    timeoutMs: 30_000,
    maxOutputBytes: 1 << 16,
    killGraceMs: 1_000,
    sandbox,
  });
  if (result.exitCode !== 0)
    throw new Error(`sandbox bench run failed: ${result.failure ?? result.stderrTail}`);
  return performance.now() - started;
}

/** Median wall time of `/bin/true` with mode none and bwrap, and the overhead. */
export async function benchSandboxCost(): Promise<Figure[]> {
  const status = await detectSandbox();
  if (!status.available) {
    console.log(`  sandbox cost skipped: ${status.reason}`);
    return [];
  }
  const ws = await mkdtemp(path.join(os.tmpdir(), 'lw-bench-sbx-'));
  try {
    await grantToSandbox(ws);
    const plain: SandboxSpec = { mode: 'none', writable: [ws] };
    const boxed: SandboxSpec = { mode: 'bwrap', writable: [ws] };
    await once(ws, plain); // warm-up: page cache, detection
    await once(ws, boxed);
    const none: number[] = [];
    const bwrap: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      none.push(await once(ws, plain));
      bwrap.push(await once(ws, boxed));
    }
    const noneMs = round(percentile(none, 50));
    const bwrapMs = round(percentile(bwrap, 50));
    const overhead = round(bwrapMs - noneMs);
    return [
      {
        name: `/bin/true through the runner, bwrap (median of ${RUNS})`,
        value: bwrapMs,
        unit: 'ms',
        baseline: { name: 'same, sandbox none', value: noneMs },
        ratio: Math.round((bwrapMs / noneMs) * 100) / 100,
      },
      {
        name: 'sandbox cost per agent run (bwrap - none)',
        value: overhead,
        unit: 'ms',
        target: { text: '< 30 ms', met: overhead < 30 },
      },
      { name: 'bwrap p90', value: round(percentile(bwrap, 90)), unit: 'ms' },
    ];
  } finally {
    await rm(ws, { recursive: true, force: true });
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
