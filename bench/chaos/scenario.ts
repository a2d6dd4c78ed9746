/**
 * The chaos run's work: real git repositories in a temporary home, one scripted-agent script for
 * all of them, tickets with dependencies within and across repositories, and a few tickets
 * designed to escalate (their intended final state is ESCALATED with a named reason).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ScriptStep } from '../../src/agents/scripted/script.js';
import type { Kdb } from '../../src/db/connection.js';
import { insertRepository } from '../../src/db/repositories.js';
import { createTicket } from '../../src/engine/create-ticket.js';
import {
  CHECK_CMD,
  checkRepoSteps,
  makeCheckRepo,
  scriptedSettings,
} from '../../test/helpers/check-repo.js';

/** What a ticket is meant to end as, and (for ESCALATED) why. */
export interface IntendedTicket {
  readonly key: string;
  readonly repo: string;
  readonly state: 'LIVE' | 'ESCALATED';
  readonly reason?: string;
}

export interface Scenario {
  readonly repos: readonly { readonly name: string; readonly path: string }[];
  readonly tickets: readonly IntendedTicket[];
}

export interface ScenarioOptions {
  readonly home: string;
  readonly tickets: number;
  readonly repos: number;
  /** How long RED and BUILD agents sleep (keeps agents running while faults land). */
  readonly agentSleepMs: number;
  readonly sandbox: 'bwrap' | 'none';
}

/** Designed failures, one per repository in turn (never a dependency of another ticket). */
const FAILURES = [
  { reason: 'LEAD_ENCROACHMENT', steps: encroachingLead },
  { reason: 'SCOPE_VIOLATION', steps: outOfScopeBuild },
  { reason: 'ATTEMPTS_EXHAUSTED', steps: failingValidator },
] as const;

/**
 * Lay out `tickets` tickets round-robin over `repos` repositories (c1, c2, ...). In each repo every
 * third ticket depends on the one before it, and the first ticket of repo r depends on the first
 * of repo r-1. The last ticket of each of the first three repos (with 3 or more) is designed to
 * escalate.
 */
export async function createScenario(db: Kdb, o: ScenarioOptions): Promise<Scenario> {
  const perRepo = planTickets(o.tickets, o.repos);
  const steps: ScriptStep[] = [];
  const script = path.join(o.home, 'script.json');
  const repos: { name: string; path: string }[] = [];
  for (const [r, keys] of perRepo.entries()) {
    const name = `c${r + 1}`;
    const dir = path.join(o.home, 'repos', name);
    await makeCheckRepo(dir);
    const settings = { ...JSON.parse(scriptedSettings(script)), sandbox: o.sandbox };
    await insertRepository(db, {
      name,
      path: dir,
      test_cmd: CHECK_CMD,
      live_cmd: CHECK_CMD,
      concurrency: 2,
      settings: JSON.stringify(settings),
    });
    repos.push({ name, path: dir });
    for (const t of keys) {
      const failure = t.reason ? FAILURES.find((f) => f.reason === t.reason) : undefined;
      if (failure) steps.push(...failure.steps(t.key));
      steps.push(...checkRepoSteps(t.key, o.agentSleepMs));
    }
  }
  await mkdir(o.home, { recursive: true });
  await writeFile(script, JSON.stringify({ steps }));
  const tickets = perRepo.flat();
  for (const t of tickets) {
    const created = await createTicket(db, {
      repo: t.repo,
      title: t.reason ? `designed to escalate (${t.reason})` : `chaos ticket ${t.key}`,
      dependsOn: t.dependsOn,
      actor: 'operator:chaos',
    });
    if (created.key !== t.key) throw new Error(`ticket ${created.key} filed, ${t.key} expected`);
  }
  return { repos, tickets: tickets.map(({ dependsOn: _, ...intended }) => intended) };
}

interface PlannedTicket extends IntendedTicket {
  readonly dependsOn: readonly string[];
}

function planTickets(total: number, repos: number): PlannedTicket[][] {
  const counts = Array.from(
    { length: repos },
    (_, r) => Math.floor(total / repos) + (r < total % repos ? 1 : 0),
  );
  return counts.map((count, r) =>
    Array.from({ length: count }, (_, i) => {
      const n = i + 1;
      const repo = `c${r + 1}`;
      const failure = count >= 3 && n === count ? FAILURES[r] : undefined;
      const dependsOn = [
        n % 3 === 0 && !failure ? `${repo}-${n - 1}` : null,
        r > 0 && n === 1 ? `c${r}-1` : null,
      ].filter((k): k is string => k !== null);
      return failure
        ? {
            key: `${repo}-${n}`,
            repo,
            state: 'ESCALATED' as const,
            reason: failure.reason,
            dependsOn,
          }
        : { key: `${repo}-${n}`, repo, state: 'LIVE' as const, dependsOn };
    }),
  );
}

const report = (summary: string, extra: object = {}) => ({
  summary,
  rationale: 'scripted to fail',
  confidence: 0.9,
  alternativesRejected: [],
  filesChanged: [],
  discoveredWork: [],
  evidence: [{ claim: 'checked', source: 'chaos scenario' }],
  ...extra,
});

/** The lead writes code while drafting the plan. */
function encroachingLead(key: string): ScriptStep[] {
  const plan = {
    goal: key,
    allowedFiles: [`src/${key}.txt`],
    testFiles: [`tests/${key}.t`],
    acceptanceCriteria: [{ name: key, test: key }],
  };
  return [
    {
      match: { ticket: key, role: 'lead', phase: 'plan_draft' },
      write: { [`src/${key}.txt`]: 'a head start\n' },
      report: report('plan and code', { plan }),
    },
  ];
}

/** The validator fails every attempt. */
function failingValidator(key: string): ScriptStep[] {
  return [
    {
      match: { ticket: key, role: 'validator', phase: 'validate' },
      report: report('fail', { verdict: 'FAIL', findings: ['never good enough'] }),
    },
  ];
}

/** Every BUILD also writes a file outside the plan's allowed files. */
function outOfScopeBuild(key: string): ScriptStep[] {
  return [
    {
      match: { ticket: key, role: 'generator', phase: 'build' },
      write: { [`src/${key}.txt`]: `${key}\n`, [`stray/${key}.txt`]: 'out of scope\n' },
      report: report('built, and more'),
    },
  ];
}
