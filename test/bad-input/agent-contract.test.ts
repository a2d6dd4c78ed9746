/**
 * Agents that break the contract, end to end: a `command` Lead that writes a non-JSON
 * report, a report over the 1 MiB cap, a report with wrong types, no report (exit 1 and exit 0),
 * that leaves a daemon behind, or that floods stdout without end. Every ticket ends with a
 * journaled reason (a REPORT_INVALID retry, then CONTRACT_VIOLATION) or goes on to LIVE; none is
 * left stuck, the orchestrator keeps running, no agent process survives, and its memory stays
 * bounded while an agent prints far more than the output cap.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoopHarness, type LoopHarness } from '../helpers/loop-harness.js';
import { baseReport, feature, happySteps, planFor, type Feature } from '../helpers/loop-script.js';

const MODES = ['nonjson', 'huge', 'types', 'noreport', 'silent', 'daemon', 'flood'] as const;
type Mode = (typeof MODES)[number];
/** Feature names are lowercase letters; one ticket per mode. */
const FEATURES: Record<Mode, Feature> = Object.fromEntries(
  MODES.map((m) => [m, feature(m)]),
) as Record<Mode, Feature>;
const MARKER = `lw-daemon-${randomBytes(6).toString('hex')}`;
const OUTPUT_CAP = 4 * 1024 * 1024;

const PROGRAM = `
import fs from 'node:fs';
import { spawn } from 'node:child_process';
const plans = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const name = /\\[([a-z]+)\\]/.exec(process.env.LOOPWRIGHT_TICKET_TITLE ?? '')?.[1];
const plan = plans[name];
const step = plan.phases[process.env.LOOPWRIGHT_PHASE] ?? {};
fs.mkdirSync('.loopwright', { recursive: true });
const report = (text) => fs.writeFileSync('.loopwright/report.json', text);
switch (plan.mode) {
  case 'nonjson': report('{"summary": "not closed'); break;
  case 'huge':
    report(JSON.stringify({ ...step.report, summary: 'x'.repeat(2 * 1024 * 1024) }));
    break;
  case 'types':
    report(JSON.stringify({ ...step.report, confidence: 'very', filesChanged: 7, evidence: 'me' }));
    break;
  case 'noreport': process.exit(1);
  case 'silent': process.exit(0);
  case 'daemon':
    spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', plan.marker], {
      detached: true,
      stdio: 'ignore',
    }).unref();
    report(JSON.stringify(step.report));
    break;
  case 'flood': {
    const chunk = 'y'.repeat(1 << 16) + '\\n';
    for (;;) fs.writeSync(1, chunk);
  }
}
`;

let lh: LoopHarness;
let dir: string;
const keys = {} as Record<Mode, string>;
let peakRssGrowth = 0;

/** The Lead's reports per phase for a feature (an honest plan, unless the mode breaks it). */
function phasesOf(f: Feature) {
  const report = { ...baseReport(`Plan for ${f.name}`), plan: planFor(f) };
  return { plan_draft: { report }, plan_revise: { report } };
}

/** Process ids whose command line carries `marker`. */
function processesWith(marker: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lw-contract-'));
  const program = path.join(dir, 'agent.mjs');
  const planFile = path.join(dir, 'plans.json');
  await writeFile(program, PROGRAM);
  const plans = Object.fromEntries(
    MODES.map((m) => [m, { mode: m, marker: MARKER, phases: phasesOf(FEATURES[m]) }]),
  );
  await writeFile(planFile, JSON.stringify(plans));
  lh = await createLoopHarness({
    script: {
      steps: MODES.flatMap((m) => happySteps(FEATURES[m])).filter((s) => s.match?.role !== 'lead'),
    },
    agents: { lead: { provider: 'command', command: [process.execPath, program, planFile] } },
    concurrency: 4,
  });
  await lh.db.db
    .updateTable('loopwright.repositories')
    .set({
      settings: JSON.stringify({
        ...(lh.repo.settings as Record<string, unknown>),
        maxOutputBytes: OUTPUT_CAP,
      }),
    })
    .where('id', '=', lh.repo.id)
    .execute();
  for (const m of MODES) keys[m] = await lh.file(FEATURES[m].title);
  const baseline = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRssGrowth = Math.max(peakRssGrowth, process.memoryUsage().rss - baseline);
  }, 20);
  try {
    await lh.run({ timeoutMs: 150_000 });
  } finally {
    clearInterval(sampler);
  }
}, 200_000);

afterAll(async () => {
  for (const pid of processesWith(MARKER)) process.kill(pid, 'SIGKILL');
  await lh?.close();
  await rm(dir, { recursive: true, force: true });
});

/** What each broken report is told, on the journaled REPORT_INVALID rows. */
const ERRORS: Record<Exclude<Mode, 'daemon'>, RegExp> = {
  nonjson: /^\.loopwright\/report\.json is not JSON: /,
  huge: /larger than 1048576 bytes/,
  types: /confidence|filesChanged|evidence/,
  noreport: /^agent failed: agent exited with code 1/,
  silent: /report\.json/,
  flood: /output exceeded maxOutputBytes.*\(output cap reached\)/,
};

describe('agents that break the contract', () => {
  it.each(Object.keys(ERRORS) as Exclude<Mode, 'daemon'>[])(
    '%s: one fresh retry, then a dead letter with CONTRACT_VIOLATION',
    async (mode) => {
      const o = await lh.outcome(keys[mode]);
      expect({ state: o.state, reason: o.context.reason }).toEqual({
        state: 'DEAD_LETTER',
        reason: 'CONTRACT_VIOLATION',
      });
      const invalid = o.events('REPORT_INVALID');
      expect(invalid.map((r) => r.to_state)).toEqual(['PLAN_DRAFT', 'DEAD_LETTER']);
      for (const row of invalid)
        expect((row.event.errors as string[]).join('\n')).toMatch(ERRORS[mode]);
      // No run of the ticket is left queued or running.
      expect(o.runs.filter((r) => r.status === 'queued' || r.status === 'running')).toEqual([]);
    },
  );

  it('a daemon left behind is killed with its run, and the ticket still ships', async () => {
    const o = await lh.outcome(keys.daemon);
    expect(o.state).toBe('LIVE');
    expect(processesWith(MARKER)).toEqual([]);
  });

  it('a flood ends at the output cap, with a bounded transcript and bounded memory', async () => {
    const o = await lh.outcome(keys.flood);
    const transcripts = o.runs
      .filter((r) => r.phase === 'plan_draft')
      .map((r) => r.transcript_path)
      .filter((p): p is string => !!p);
    expect(transcripts.length).toBe(2);
    for (const file of transcripts) expect(statSync(file).size).toBeLessThan(OUTPUT_CAP + 4096);
    // Two runs printed without end; the orchestrator's memory grew by far less than a flood.
    expect(peakRssGrowth, `peak RSS growth ${peakRssGrowth} bytes`).toBeLessThan(256 * 1024 * 1024);
  });
});
