/**
 * Scripted-agent steps for the loop tests: a tiny real feature per ticket (a module, its test and
 * a live check) played by Lead, Generator and Validator the way src/demo/playbook.ts plays the
 * demo. A test prepends the one step it wants to break; the first matching step wins.
 */
import type { Script, ScriptStep } from '../../src/agents/scripted/script.js';

/** The report fields every role writes (skills/shared/report-contract.md). */
export function baseReport(summary: string, files: readonly string[] = []) {
  return {
    summary,
    rationale: 'Smallest change that satisfies the ticket and its acceptance tests.',
    confidence: 0.8,
    alternativesRejected: [
      { option: 'a dependency from npm', reason: 'a few lines of code do not earn a dependency' },
    ],
    evidence: [
      { claim: 'the change is limited to the planned files', source: 'git status --short' },
    ],
    filesChanged: [...files],
    discoveredWork: [],
  };
}

/** One small feature: `src/<name>.js` exports `<name>()` returning its own name. */
export interface Feature {
  /** Unique tag; also the ticket title the steps match (by substring, so keep tags distinct). */
  readonly title: string;
  readonly name: string;
  readonly module: string;
  readonly testFile: string;
  readonly liveFile: string;
  readonly impl: string;
  readonly test: string;
  readonly live: string;
}

/**
 * A feature named `name` (lowercase letters only), for a ticket titled `title`.
 *
 * @example
 * const f = feature('alpha'); // src/alpha.js, test/alpha.test.js, scripts/live/alpha.mjs
 */
export function feature(name: string, title = `Add ${name} [${name}]`): Feature {
  if (!/^[a-z]+$/.test(name)) throw new Error(`feature names are lowercase letters: ${name}`);
  return {
    title,
    name,
    module: `src/${name}.js`,
    testFile: `test/${name}.test.js`,
    liveFile: `scripts/live/${name}.mjs`,
    impl: `/** Says its name. */\nexport function ${name}() {\n  return '${name}';\n}\n`,
    test: [
      "import { test } from 'node:test';",
      "import assert from 'node:assert/strict';",
      `import { ${name} } from '../src/${name}.js';`,
      '',
      `test('${name} says its name', () => {`,
      `  assert.equal(${name}(), '${name}');`,
      '});',
      '',
    ].join('\n'),
    live:
      `import { ${name} } from '../../src/${name}.js';\nexport const check = () ` +
      `=> ${name}() === '${name}';\n`,
  };
}

export function planFor(f: Feature) {
  return {
    goal: `${f.name}() exists in ${f.module}, is tested, and is exercised by the live check.`,
    allowedFiles: [f.module, f.liveFile],
    testFiles: [f.testFile],
    acceptanceCriteria: [{ name: `${f.name} says its name`, test: `${f.name} says its name` }],
  };
}

type Role = 'lead' | 'generator' | 'validator';
export const match = (
  f: Feature,
  role: Role,
  phase: string,
  extra: { attempt?: number; round?: number } = {},
) => ({ title: f.title, role, phase, ...extra });

/** Default costs per phase (USD), as the scripted agent reports them. */
export const COSTS = {
  plan_draft: 0.02,
  plan_critique: 0.01,
  plan_revise: 0.02,
  red: 0.03,
  build: 0.05,
  validate: 0.02,
} as const;

/**
 * The happy path of one feature: plan, approve, failing test, implementation, PASS with evidence.
 */
export function happySteps(f: Feature, extra: Partial<ScriptStep> = {}): ScriptStep[] {
  const step = (s: ScriptStep): ScriptStep => ({ ...s, ...extra });
  return [
    step({
      match: match(f, 'lead', 'plan_draft'),
      report: { ...baseReport(`Plan for ${f.name}`), plan: planFor(f) },
      costUsd: COSTS.plan_draft,
    }),
    step({
      match: match(f, 'lead', 'plan_revise'),
      report: { ...baseReport(`Revised plan for ${f.name}`), plan: planFor(f) },
      costUsd: COSTS.plan_revise,
    }),
    step({
      match: match(f, 'validator', 'plan_critique'),
      report: { ...baseReport('Plan is testable and narrow'), verdict: 'APPROVE', critiques: [] },
      costUsd: COSTS.plan_critique,
    }),
    step({
      match: match(f, 'generator', 'red'),
      write: { [f.testFile]: f.test },
      report: baseReport(`Failing test for ${f.name}`, [f.testFile]),
      costUsd: COSTS.red,
    }),
    step({
      match: match(f, 'generator', 'build'),
      write: { [f.module]: f.impl, [f.liveFile]: f.live },
      report: baseReport(`Implemented ${f.name}`, [f.module, f.liveFile]),
      costUsd: COSTS.build,
    }),
    step({
      match: match(f, 'validator', 'validate'),
      report: {
        ...baseReport(`${f.name} verified`),
        verdict: 'PASS',
        findings: [],
        evidence: [
          { claim: 'tests pass', source: 'node --test: all tests pass' },
          { claim: 'implementation reviewed', source: `${f.module}:1-4` },
        ],
      },
      costUsd: COSTS.validate,
    }),
  ];
}

/** A script: every override first (they win), then the happy path of every feature. */
export function scriptOf(
  features: readonly Feature[],
  overrides: readonly ScriptStep[] = [],
  extra: Partial<ScriptStep> = {},
): Script {
  return { steps: [...overrides, ...features.flatMap((f) => happySteps(f, extra))] };
}
