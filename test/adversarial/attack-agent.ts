/**
 * The `command`-provider agent of the adversarial tests: a small Node program that plays the
 * Generator (RED and BUILD) from a JSON plan per phase — files to write or remove, shell commands
 * (the attack), and the report (or a symlink in its place) — while Lead and Validator stay
 * scripted. Its program and plan live in a temp dir outside the workspace (bound read-only in the
 * sandbox, as the operator's agent configuration is).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { baseReport, happySteps, type Feature } from '../helpers/loop-script.js';
import type { LoopHarnessOptions } from '../helpers/loop-harness.js';

/** What the attacking Generator does in one phase. */
export interface PhasePlan {
  readonly write?: Readonly<Record<string, string>>;
  readonly remove?: readonly string[];
  /** Run with /bin/sh in the workspace, failures ignored (a blocked attack is not a crash). */
  readonly shell?: readonly string[];
  readonly report?: unknown;
  /** Make `.loopwright/report.json` a symlink to this path instead of writing a report. */
  readonly reportSymlink?: string;
}

export type AttackPlan = Partial<Record<'red' | 'build', PhasePlan>>;

const PROGRAM = `
import fs from 'node:fs';
import path from 'node:path';
import { execSync } from 'node:child_process';
const plans = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const plan = plans[process.env.LOOPWRIGHT_PHASE] ?? {};
for (const [file, content] of Object.entries(plan.write ?? {})) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}
for (const file of plan.remove ?? []) fs.rmSync(file, { force: true });
for (const cmd of plan.shell ?? []) {
  try { execSync(cmd, { stdio: 'ignore', shell: '/bin/sh' }); } catch {}
}
fs.mkdirSync('.loopwright', { recursive: true });
if (plan.reportSymlink) fs.symlinkSync(plan.reportSymlink, '.loopwright/report.json');
else fs.writeFileSync('.loopwright/report.json', JSON.stringify(plan.report ?? {}));
`;

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** The honest Generator's plan for a feature: the RED test, then the implementation. */
export function honestPlan(f: Feature): Required<Pick<AttackPlan, 'red' | 'build'>> {
  return {
    red: {
      write: { [f.testFile]: f.test },
      report: baseReport(`Failing test for ${f.name}`, [f.testFile]),
    },
    build: {
      write: { [f.module]: f.impl, [f.liveFile]: f.live },
      report: baseReport(`Implemented ${f.name}`, [f.module, f.liveFile]),
    },
  };
}

/**
 * Harness options for one feature with a `command` Generator following `plan`, scripted Lead and
 * Validator, in sandbox `mode`.
 */
export async function attackOptions(
  f: Feature,
  plan: AttackPlan,
  mode: 'bwrap' | 'none',
  extra: Partial<LoopHarnessOptions> = {},
): Promise<LoopHarnessOptions> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lw-attacker-'));
  dirs.push(dir);
  const program = path.join(dir, 'agent.mjs');
  const planFile = path.join(dir, 'plan.json');
  await writeFile(program, PROGRAM);
  await writeFile(planFile, JSON.stringify(plan));
  return {
    script: { steps: happySteps(f).filter((s) => s.match?.role !== 'generator') },
    agents: { generator: { provider: 'command', command: [process.execPath, program, planFile] } },
    sandbox: mode,
    limits: { maxAttempts: 2, maxRedAttempts: 2 },
    ...extra,
  };
}
