/**
 * A minimal repository whose test command is a shell script (no Node start-up per gate), and the
 * scripted steps that take one ticket through the whole lifecycle in it: RED adds
 * `tests/<key>.t`, BUILD adds `src/<key>.txt`, and `scripts/check.sh` passes once every test has
 * its source. Used by the scale and chaos tests and the lifecycle benchmark.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ScriptStep } from '../../src/agents/scripted/script.js';
import type { Kdb } from '../../src/db/connection.js';
import { insertRepository } from '../../src/db/repositories.js';
import { git } from '../../src/workspace/index.js';

export const CHECK_CMD = 'sh scripts/check.sh';

const CHECK = `#!/bin/sh
# Every tests/<name>.t needs a src/<name>.txt: RED adds the test, BUILD the source.
for t in tests/*.t; do
  [ -e "$t" ] || continue
  n=$(basename "$t" .t)
  [ -f "src/$n.txt" ] || { echo "missing src/$n.txt"; exit 1; }
done
echo ok
`;

/**
 * The check repository; `padFiles` adds that many committed files (~2 KiB each, 100 per folder
 * under `vendor/`) for a workload the size of a real project's checkout.
 */
export async function makeCheckRepo(dir: string, padFiles = 0): Promise<void> {
  await mkdir(path.join(dir, 'scripts'), { recursive: true });
  await writeFile(path.join(dir, 'scripts/check.sh'), CHECK);
  for (let i = 0; i < padFiles; i++) {
    const folder = path.join(dir, 'vendor', `pkg-${Math.floor(i / 100)}`);
    if (i % 100 === 0) await mkdir(folder, { recursive: true });
    const line = `export const value${i} = ${JSON.stringify(`padding ${i}`.padEnd(60, '.'))};\n`;
    await writeFile(path.join(folder, `f${i}.js`), line.repeat(28));
  }
  for (const d of ['src', 'tests']) {
    await mkdir(path.join(dir, d), { recursive: true });
    await writeFile(path.join(dir, d, '.keep'), '');
  }
  await git(dir, ['init', '-q', '-b', 'main']);
  await git(dir, ['add', '--all']);
  await git(dir, ['commit', '-q', '-m', 'init']);
}

/** Every role's step for ticket `key`; `sleepMs` slows RED and BUILD (0 = instant agents). */
export function checkRepoSteps(key: string, sleepMs = 0): ScriptStep[] {
  const report = (summary: string, extra: object = {}) => ({
    summary,
    rationale: 'scripted',
    confidence: 0.9,
    alternativesRejected: [],
    filesChanged: [],
    discoveredWork: [],
    evidence: [{ claim: 'checked', source: 'sh scripts/check.sh: ok' }],
    ...extra,
  });
  const plan = {
    goal: key,
    allowedFiles: [`src/${key}.txt`],
    testFiles: [`tests/${key}.t`],
    acceptanceCriteria: [{ name: key, test: key }],
  };
  const slow = sleepMs > 0 ? { sleepMs } : {};
  return [
    { match: { ticket: key, role: 'lead', phase: 'plan_draft' }, report: report('plan', { plan }) },
    {
      match: { ticket: key, role: 'validator', phase: 'plan_critique' },
      report: report('ok', { verdict: 'APPROVE', critiques: [] }),
    },
    {
      match: { ticket: key, role: 'generator', phase: 'red' },
      write: { [`tests/${key}.t`]: `${key}\n` },
      report: report('red'),
      ...slow,
    },
    {
      match: { ticket: key, role: 'generator', phase: 'build' },
      write: { [`src/${key}.txt`]: `${key}\n` },
      report: report('built'),
      ...slow,
    },
    {
      match: { ticket: key, role: 'validator', phase: 'validate' },
      report: report('pass', { verdict: 'PASS', findings: [] }),
    },
  ];
}

/** Repository settings that route every role to the scripted agent reading `script`. */
export function scriptedSettings(script: string): string {
  const scripted = { provider: 'scripted' };
  return JSON.stringify({
    agents: { lead: scripted, generator: scripted, validator: scripted },
    script,
    agentTimeoutSeconds: 60,
  });
}

/**
 * A check repository made at `<home>/repos/<name>` and registered as `name`, every role a
 * scripted agent playing `script`. Returns its directory.
 */
export async function addCheckRepo(
  db: Kdb,
  home: string,
  name: string,
  script: string,
  concurrency?: number,
): Promise<string> {
  const dir = path.join(home, 'repos', name);
  await makeCheckRepo(dir);
  await insertRepository(db, {
    name,
    path: dir,
    test_cmd: CHECK_CMD,
    live_cmd: CHECK_CMD,
    ...(concurrency === undefined ? {} : { concurrency }),
    settings: scriptedSettings(script),
  });
  return dir;
}
