/**
 * The demo's scripted agents: what each Lead, Generator and Validator writes for the three demo
 * tickets (src/agents/scripted). Reports follow skills/shared/report-contract.md; the code and
 * tests are real and the orchestrator's gates run them for real.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Script, ScriptStep } from '../agents/scripted/script.js';
import { createSampleRepo, git } from '../workspace/index.js';

export const DEMO_TICKETS = [
  {
    title: 'Add slugify helper',
    body:
      'slugify(text) turns a title into a URL slug: lowercase words joined by single ' +
      'hyphens, punctuation dropped.',
  },
  {
    title: 'Add page titles built on slugify',
    body: 'pageTitle(title) returns { title, slug } for a page, reusing slugify.',
    dependsOnFirst: true,
  },
  {
    title: 'Add wordCount',
    body: 'wordCount(text) counts the words in a text; blank text has zero words.',
  },
] as const;

const base = (summary: string, files: string[] = []) => ({
  summary,
  rationale: 'Smallest change that satisfies the ticket and its acceptance tests.',
  confidence: 0.8,
  alternativesRejected: [
    { option: 'a dependency from npm', reason: 'a few lines of code do not earn a dependency' },
  ],
  evidence: [{ claim: 'the change is limited to the planned files', source: 'git status --short' }],
  filesChanged: files,
  discoveredWork: [],
});

/** One small feature a scripted ticket ships: a module, its test and its live check. */
export interface Feature {
  readonly title: string;
  readonly module: string;
  readonly fn: string;
  readonly test: string;
  readonly impl: string;
  readonly live: string;
  readonly criteria: readonly string[];
}

export const SLUGIFY: Feature = {
  title: 'Add slugify helper',
  module: 'slugify',
  fn: 'slugify',
  criteria: ['slugify joins lowercase words with hyphens', 'slugify drops punctuation'],
  test: `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slugify } from '../src/slugify.js';

test('slugify joins lowercase words with hyphens', () => {
  assert.equal(slugify('Hello Big World'), 'hello-big-world');
});

test('slugify drops punctuation', () => {
  assert.equal(slugify('Hello, World!'), 'hello-world');
});
`,
  impl: `/** Turn a title into a URL slug. */
export function slugify(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}
`,
  live: `import { slugify } from '../../src/slugify.js';
export const check = () => slugify('Ship It, Today!') === 'ship-it-today';
`,
};

export const PAGE_TITLE: Feature = {
  title: 'Add page titles built on slugify',
  module: 'page-title',
  fn: 'pageTitle',
  criteria: ['pageTitle returns the title and its slug', 'pageTitle trims the title'],
  test: `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageTitle } from '../src/page-title.js';

test('pageTitle returns the title and its slug', () => {
  assert.deepEqual(pageTitle('About Us'), { title: 'About Us', slug: 'about-us' });
});

test('pageTitle trims the title', () => {
  assert.deepEqual(pageTitle('  Contact  '), { title: 'Contact', slug: 'contact' });
});
`,
  impl: `import { slugify } from './slugify.js';

/** A page's display title and URL slug. */
export function pageTitle(title) {
  const clean = title.trim();
  return { title: clean, slug: slugify(clean) };
}
`,
  live: `import { pageTitle } from '../../src/page-title.js';
export const check = () => pageTitle(' Pricing ').slug === 'pricing';
`,
};

export const WORD_COUNT: Feature = {
  title: 'Add wordCount',
  module: 'word-count',
  fn: 'wordCount',
  criteria: ['wordCount counts words separated by spaces'],
  test: `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wordCount } from '../src/word-count.js';

test('wordCount counts words separated by spaces', () => {
  assert.equal(wordCount('one two three'), 3);
});
`,
  impl: `/** Count the words in a text; blank text has none. */
export function wordCount(text) {
  const words = text.trim().split(/\\s+/);
  return words[0] === '' ? 0 : words.length;
}
`,
  live: `import { wordCount } from '../../src/word-count.js';
export const check = () => wordCount('  ') === 0 && wordCount('a b') === 2;
`,
};

/** The first, rejected attempt: passes its test but counts blank text as one word. */
const WORD_COUNT_BUGGY = `/** Count the words in a text. */
export function wordCount(text) {
  return text.trim().split(/\\s+/).length;
}
`;

export function planFor(f: Feature) {
  return {
    goal: `${f.fn}() exists in src/${f.module}.js, is tested, and is exercised by the live check.`,
    allowedFiles: [`src/${f.module}.js`, `scripts/live/${f.module}.mjs`],
    testFiles: [`test/${f.module}.test.js`],
    acceptanceCriteria: f.criteria.map((name) => ({ name, test: name })),
  };
}

/** The happy-path steps of every role for one feature (plan, approve, RED, build, PASS). */
export function featureSteps(f: Feature): ScriptStep[] {
  const m = (role: 'lead' | 'generator' | 'validator', phase: string) => ({
    title: f.title,
    role,
    phase,
  });
  const files = [`src/${f.module}.js`, `scripts/live/${f.module}.mjs`];
  return [
    {
      match: m('lead', 'plan_draft'),
      report: { ...base(`Plan for ${f.fn}`), plan: planFor(f) },
      costUsd: 0.02,
    },
    {
      match: m('lead', 'plan_revise'),
      report: { ...base(`Revised plan for ${f.fn}: live check added`), plan: planFor(f) },
      costUsd: 0.02,
    },
    {
      match: m('generator', 'red'),
      write: { [`test/${f.module}.test.js`]: f.test },
      report: base(`Failing tests for ${f.fn}`, [`test/${f.module}.test.js`]),
      costUsd: 0.03,
    },
    {
      match: m('generator', 'build'),
      write: { [`src/${f.module}.js`]: f.impl, [`scripts/live/${f.module}.mjs`]: f.live },
      report: base(`Implemented ${f.fn}`, files),
      costUsd: 0.05,
    },
    {
      match: m('validator', 'validate'),
      report: {
        ...base(`${f.fn} verified`),
        verdict: 'PASS',
        findings: [],
        evidence: [
          { claim: 'tests pass', source: 'node --test: all tests pass' },
          { claim: 'implementation reviewed', source: `src/${f.module}.js:1-6` },
        ],
      },
      costUsd: 0.02,
    },
  ];
}

/** The whole playbook: one step list, first match wins (so specific steps come first). */
export function demoScript(): Script {
  const critique = (
    title: string,
    round: number | null,
    verdict: 'APPROVE' | 'REVISE',
    critiques: string[],
  ): ScriptStep => ({
    match: {
      title,
      role: 'validator',
      phase: 'plan_critique',
      ...(round === null ? {} : { round }),
    },
    report: {
      ...base(verdict === 'APPROVE' ? 'Plan is testable and narrow' : 'Plan needs one change'),
      verdict,
      critiques,
    },
    costUsd: 0.01,
  });
  return {
    steps: [
      // Ticket 2 negotiates: the first critique asks for a live check; the revision answers it.
      critique(PAGE_TITLE.title, 1, 'REVISE', [
        '1. The live check must exercise pageTitle after the merge: add ' +
          'scripts/live/page-title.mjs.',
      ]),
      // Ticket 3's first build counts blank text as one word; the validator catches it.
      {
        match: { title: WORD_COUNT.title, role: 'generator', phase: 'build', attempt: 1 },
        write: {
          'src/word-count.js': WORD_COUNT_BUGGY,
          'scripts/live/word-count.mjs': WORD_COUNT.live,
        },
        report: base('Implemented wordCount', ['src/word-count.js']),
        costUsd: 0.05,
      },
      {
        match: { title: WORD_COUNT.title, role: 'validator', phase: 'validate', attempt: 1 },
        report: {
          ...base('wordCount is wrong for blank text'),
          verdict: 'FAIL',
          findings: [
            "src/word-count.js:3 returns 1 for wordCount('   '); blank text must count 0 words",
          ],
          evidence: [
            {
              claim: "wordCount('   ') === 1",
              source:
                "node -e \"import('./src/word-count.js').then(m => " +
                "console.log(m.wordCount('   ')))\" printed 1",
            },
          ],
        },
        costUsd: 0.02,
      },
      ...[SLUGIFY, PAGE_TITLE, WORD_COUNT].flatMap((f) => [
        critique(f.title, null, 'APPROVE', []),
        ...featureSteps(f),
      ]),
    ],
  };
}

/** Files the demo adds to the sample repository before filing tickets: a live-check runner. */
export const DEMO_REPO_FILES: Readonly<Record<string, string>> = {
  'scripts/live-check.mjs': `\
// Runs every check in scripts/live/: each ticket ships its own, so the live
// check grows with the product.
import { readdir } from 'node:fs/promises';
import { greet } from '../src/greet.js';

let failed = greet('world') !== 'Hello, world!';
const files = await readdir(new URL('./live/', import.meta.url));
for (const file of files.filter((f) => f.endsWith('.mjs')).sort()) {
  const { check } = await import(new URL(\`./live/\${file}\`, import.meta.url));
  const ok = await check();
  console.log(\`\${ok ? 'ok  ' : 'FAIL'} \${file}\`);
  if (!ok) failed = true;
}
console.log(failed ? 'live check FAILED' : 'live check ok');
process.exit(failed ? 1 : 0);
`,
  'scripts/live/.keep': '',
};

/**
 * The sample repository with the live-check runner committed: what demo tickets are filed against.
 */
export async function createDemoRepo(dir: string): Promise<string> {
  const repo = await createSampleRepo(dir);
  for (const [file, content] of Object.entries(DEMO_REPO_FILES)) {
    await mkdir(path.dirname(path.join(repo.path, file)), { recursive: true });
    await writeFile(path.join(repo.path, file), content);
  }
  await git(repo.path, ['add', '--all']);
  await git(repo.path, ['commit', '-q', '-m', 'Live checks: scripts/live/*.mjs']);
  return repo.path;
}
