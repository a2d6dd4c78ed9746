import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutNote } from '../../src/cli/commands/repo.js';
import type { TestDb } from '../helpers/db.js';
import {
  cliDb,
  dropCliDb,
  dumpState,
  expectBadInput,
  makeGitRepo,
  runCli,
  runJson,
  tempDir,
} from './helpers.js';

let t: TestDb;

beforeAll(async () => {
  t = await cliDb();
});
afterAll(() => dropCliDb(t));

describe('loopwright repo add', () => {
  it("stores the work tree's top level, a sanitized default name and the branch", async () => {
    const repo = makeGitRepo('My Web.App', { branch: 'trunk' });
    mkdirSync(path.join(repo, 'src', 'deep'), { recursive: true });
    const result = await runCli(t, ['repo', 'add', path.join(repo, 'src', 'deep')]);
    expect(result).toMatchObject({
      code: 0,
      stderr: 'loopwright: test command: npm test (package.json has scripts.test)\n',
    });
    expect(result.stdout).toBe(
      `added repo my-web-app: ${repo} (base trunk, dark, concurrency 2, tests: npm ` +
        `test)\n${checkoutNote(repo, 'trunk')}\n`,
    );
    expect(checkoutNote(repo, 'trunk')).toBe(
      `note: where trunk is checked out (e.g. ${repo}), a clean checkout follows each tested ` +
        `merge; with uncommitted changes the merge waits (status says so) until you ` +
        `commit or stash`,
    );
    const {
      repos: [stored],
    } = await runJson(t, ['repo', 'list']);
    expect(stored).toMatchObject({
      name: 'my-web-app',
      path: repo,
      baseBranch: 'trunk',
      mode: 'dark',
      concurrency: 2,
      checkCmds: [],
    });
  });

  it('takes every option and prints the repository as JSON', async () => {
    const repo = makeGitRepo('svc', { branches: ['release'] });
    const added = await runJson(t, [
      'repo',
      'add',
      repo,
      '--name',
      'svc_1',
      '--base',
      'release',
      '--test-cmd',
      'npm test',
      '--live-cmd',
      'curl -f localhost',
      '--check-cmd',
      'npm run lint',
      '--check-cmd',
      'npm run typecheck',
      '--concurrency',
      '4',
      '--mode',
      'copilot',
    ]);
    expect(added).toEqual({
      name: 'svc_1',
      path: repo,
      baseBranch: 'release',
      testCmd: 'npm test',
      liveCmd: 'curl -f localhost',
      checkCmds: ['npm run lint', 'npm run typecheck'],
      concurrency: 4,
      mode: 'copilot',
      settings: expect.any(Object),
      agents: {
        lead: { provider: 'claude' },
        generator: { provider: 'claude' },
        validator: { provider: 'codex' },
      },
      warnings: [],
      createdAt: expect.any(String),
    });
  });

  it('stores agents per role and limits; warns when two roles share a vendor', async () => {
    const repo = makeGitRepo('agents');
    const result = await runCli(t, [
      'repo',
      'add',
      repo,
      '--agent',
      'generator=claude:opus',
      '--agent',
      'validator=claude',
      '--limit',
      'maxAttempts=5',
      '--limit',
      'maxCostUsd=none',
      '--json',
    ]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const added = JSON.parse(result.stdout);
    expect(added.warnings).toEqual([
      expect.stringMatching(
        /^warning: the validator uses the same vendor as the generator \(anthropic\)/,
      ),
    ]);
    const human = await runCli(t, ['repo', 'set', 'agents', '--limit', 'maxAttempts=4']);
    expect(human.stderr).toMatch(/^loopwright: warning: the validator uses the same vendor/);
    expect(added.settings).toMatchObject({
      agents: {
        generator: { provider: 'claude', model: 'opus' },
        validator: { provider: 'claude' },
      },
      limits: { maxAttempts: 5, maxCostUsd: null },
    });
    const quiet = await runCli(t, [
      'repo',
      'add',
      makeGitRepo('agents2'),
      '--name',
      'agents2',
      '--test-cmd',
      'npm test',
    ]);
    expect(quiet).toMatchObject({ code: 0, stderr: '' });
  });

  it('refuses an unknown agent, role or limit, storing nothing', async () => {
    const repo = makeGitRepo('agents3');
    const cases: [string[], RegExp][] = [
      [['--agent', 'validator=gpt'], /--agent must be role=provider/],
      [['--agent', 'boss=claude'], /--agent must be role=provider/],
      [['--limit', 'maxAttempt=3'], /unknown setting limits.maxAttempt/],
      [['--limit', 'maxAttempts=lots'], /--limit maxAttempts must be a number or none/],
      [['--agent', 'lead=scripted'], /scripted agents need --script/],
    ];
    for (const [flags, message] of cases) {
      const before = await dumpState(t.db);
      expectBadInput(await runCli(t, ['repo', 'add', repo, ...flags]), message);
      expect(await dumpState(t.db)).toEqual(before);
    }
  });

  it('resolves a relative path against the working directory', async () => {
    const repo = makeGitRepo('relative');
    const result = await runCli(t, ['repo', 'add', 'relative'], { cwd: path.dirname(repo) });
    expect(result.code).toBe(0);
    const { repos } = await runJson<{ repos: { name: string; path: string }[] }>(t, [
      'repo',
      'list',
    ]);
    expect(repos.find((r) => r.name === 'relative')?.path).toBe(repo);
  });

  it('lists repositories as a table', async () => {
    const result = await runCli(t, ['repo', 'list']);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(/^NAME\s+BASE\s+MODE\s+SLOTS\s+TEST\s+PATH$/);
    expect(result.stdout).toMatch(/svc_1\s+release\s+copilot\s+4\s+npm test/);
  });
});

describe('loopwright repo add refuses bad input and stores nothing', () => {
  const plainDir = () => tempDir('lw-plain-');
  const cases: [string, () => string[], string | RegExp][] = [
    [
      'a directory that is not a git repository',
      () => ['repo', 'add', plainDir()],
      'not a git repository: ',
    ],
    [
      'a path that does not exist',
      () => ['repo', 'add', '/nonexistent/lw-repo'],
      'no such directory: /nonexistent/lw-repo',
    ],
    [
      'a base branch that does not exist',
      () => ['repo', 'add', makeGitRepo('nobranch'), '--base', 'nope'],
      'branch nope does not exist',
    ],
    [
      'a repository without commits',
      () => ['repo', 'add', makeGitRepo('empty', { commit: false })],
      'branch main does not exist',
    ],
    [
      'a duplicate name',
      () => ['repo', 'add', makeGitRepo('other'), '--name', 'svc_1'],
      'repo already exists: svc_1',
    ],
    [
      'an invalid name',
      () => ['repo', 'add', makeGitRepo('badname'), '--name', 'Bad Name'],
      'invalid repo name "Bad Name"',
    ],
    [
      'a non-integer concurrency',
      () => ['repo', 'add', makeGitRepo('c1'), '--concurrency', 'abc'],
      '--concurrency must be an integer, got "abc"',
    ],
    [
      'a concurrency out of range',
      () => ['repo', 'add', makeGitRepo('c2'), '--concurrency', '65'],
      '--concurrency must be between 1 and 64',
    ],
    [
      'an unknown mode',
      () => ['repo', 'add', makeGitRepo('m'), '--mode', 'auto'],
      '--mode must be copilot or dark',
    ],
    ['a missing path', () => ['repo', 'add'], 'missing <path>'],
    [
      'an unknown option',
      () => ['repo', 'add', makeGitRepo('u'), '--nmae', 'x'],
      "unknown option '--nmae'",
    ],
    [
      'a missing option value',
      () => ['repo', 'add', makeGitRepo('v'), '--name'],
      "option '--name <value>' argument missing",
    ],
    ['an unknown subcommand', () => ['repo', 'rename', 'x'], 'unknown repo subcommand: rename'],
  ];
  it.each(cases)('%s', async (_name, argv, message) => {
    const before = await dumpState(t.db);
    expectBadInput(await runCli(t, argv()), message);
    expect(await dumpState(t.db)).toEqual(before);
  });
});
