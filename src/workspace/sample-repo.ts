/**
 * A tiny but real Node project in a fresh git repository, for tests and the demo: `node --test`
 * runs its one passing test and `scripts/live-check.mjs` exercises the module, with no npm install.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { git } from './git.js';

/** A sample repository and the commands the gates run in it. */
export interface SampleRepo {
  readonly path: string;
  readonly baseBranch: 'main';
  readonly testCmd: string;
  readonly liveCmd: string;
}

/** The files of the sample project, by repository-relative path. */
export const SAMPLE_FILES: Readonly<Record<string, string>> = {
  'package.json': `${JSON.stringify(
    {
      name: 'sample-greeter',
      version: '1.0.0',
      private: true,
      type: 'module',
      scripts: { test: 'node --test' },
    },
    null,
    2,
  )}\n`,
  'src/greet.js': [
    '/** Greet someone by name. */',
    'export function greet(name) {',
    '  return `Hello, ${name}!`;',
    '}',
    '',
  ].join('\n'),
  'test/greet.test.js': [
    "import { test } from 'node:test';",
    "import assert from 'node:assert/strict';",
    "import { greet } from '../src/greet.js';",
    '',
    "test('greets by name', () => {",
    "  assert.equal(greet('Ada'), 'Hello, Ada!');",
    '});',
    '',
  ].join('\n'),
  'scripts/live-check.mjs': [
    '// Exercises the shipped module the way a user would; exit 0 means the behaviour is live.',
    "import { greet } from '../src/greet.js';",
    '',
    "const ok = greet('world') === 'Hello, world!';",
    "console.log(ok ? 'live check ok' : 'live check FAILED');",
    'process.exit(ok ? 0 : 1);',
    '',
  ].join('\n'),
  'README.md': '# sample-greeter\n\nA sample project for loopwright.\n',
};

/**
 * Write the sample project into `dir` (created if needed; should be empty), `git init -b main` it
 * and make the initial commit as loopwright.
 *
 * @example
 * ```ts
 * const repo = await createSampleRepo(await mkdtemp(path.join(os.tmpdir(), 'lw-')));
 * await runCommandGate(repo.testCmd, repo.path, { timeoutMs: 30_000 }); // passes
 * ```
 */
export async function createSampleRepo(dir: string): Promise<SampleRepo> {
  const root = path.resolve(dir);
  for (const [file, content] of Object.entries(SAMPLE_FILES)) {
    const target = path.join(root, file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  await git(root, ['init', '--quiet', '--initial-branch=main']);
  await git(root, ['add', '--all']);
  await git(root, ['commit', '--quiet', '--no-verify', '-m', 'Initial commit']);
  return {
    path: root,
    baseBranch: 'main',
    testCmd: 'node --test',
    liveCmd: 'node scripts/live-check.mjs',
  };
}
