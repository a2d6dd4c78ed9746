/**
 * `repo set | show | remove` and `--settings-file`: a new user configures real agents with the CLI
 * alone (a Claude generator with bypassPermissions, a codex validator with a model and a base URL,
 * a command lead), sees them, changes them, and every bad value is one line naming the setting
 * with nothing stored changed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRepositoryByName } from '../../src/db/repositories.js';
import { getTicket } from '../../src/db/tickets.js';
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
const dir = tempDir('lw-settings-');

beforeAll(async () => {
  t = await cliDb('app');
});
afterAll(() => dropCliDb(t));

describe('loopwright repo set and show', () => {
  it('configures a claude generator, codex validator and command lead without SQL', async () => {
    const shown = await runJson(t, [
      'repo',
      'set',
      'app',
      '--agent',
      'generator=claude:opus',
      '--agent-opt',
      'generator.permissionMode=bypassPermissions',
      '--agent-opt',
      'generator.extraArgs=["--allowedTools","Bash"]',
      '--agent-opt',
      'generator.maxTurns=40',
      '--agent',
      'validator=codex:gpt-5',
      '--agent-env',
      'validator.OPENAI_BASE_URL=http://127.0.0.1:8080/v1',
      '--agent-command',
      'lead=["./bin/lead-agent","--fast"]',
      '--agent-opt',
      'lead.vendor=anthropic',
      '--set',
      'agentStallSeconds=90',
      '--limit',
      'maxAttempts=5',
      '--mode',
      'copilot',
      '--check-cmd',
      'npm run lint',
    ]);
    expect(shown).toMatchObject({
      name: 'app',
      mode: 'copilot',
      checkCmds: ['npm run lint'],
      agents: {
        generator: {
          provider: 'claude',
          model: 'opus',
          permissionMode: 'bypassPermissions',
          extraArgs: ['--allowedTools', 'Bash'],
          maxTurns: 40,
        },
        validator: {
          provider: 'codex',
          model: 'gpt-5',
          env: { OPENAI_BASE_URL: 'http://127.0.0.1:8080/v1' },
        },
        lead: {
          provider: 'command',
          command: ['./bin/lead-agent', '--fast'],
          vendor: 'anthropic',
        },
      },
      settings: { agentStallSeconds: 90, limits: { maxAttempts: 5 } },
    });
    expect(await runJson(t, ['repo', 'show', 'app'])).toMatchObject({
      agents: shown.agents,
      settings: shown.settings,
    });
    const human = await runCli(t, ['repo', 'show', 'app']);
    expect(human.stdout).toMatch(
      new RegExp(
        '^generator: +claude {2}model opus {2}permissionMode bypassPermissions {2}' +
          'extraArgs \\["--allowedTools","Bash"\\]',
        'm',
      ),
    );
    expect(human.stdout).toMatch(/^validator: +codex {2}model gpt-5 {2}env OPENAI_BASE_URL$/m);
    expect(human.stdout).toMatch(/^agentStallSeconds: +90$/m);
  });

  it('changes one option, keeps the rest; --unset drops one; new provider, fresh', async () => {
    await runJson(t, ['repo', 'set', 'app', '--agent-opt', 'generator.maxTurns=10']);
    let shown = await runJson(t, ['repo', 'show', 'app']);
    expect(shown.agents.generator).toMatchObject({
      maxTurns: 10,
      permissionMode: 'bypassPermissions',
    });
    await runJson(t, ['repo', 'set', 'app', '--unset', 'agents.generator.maxTurns']);
    shown = await runJson(t, ['repo', 'show', 'app']);
    expect(shown.agents.generator.maxTurns).toBeUndefined();
    await runJson(t, ['repo', 'set', 'app', '--agent', 'generator=codex']);
    shown = await runJson(t, ['repo', 'show', 'app']);
    expect(shown.agents.generator).toEqual({ provider: 'codex' });
    await runJson(t, ['repo', 'set', 'app', '--agent', 'generator=claude:opus']);
  });

  it('applies a YAML settings file, then the flags on top', async () => {
    const file = path.join(dir, 'app.yaml');
    writeFileSync(
      file,
      [
        'testCmd: npm run test:unit',
        'concurrency: 3',
        'agents:',
        '  validator: { provider: codex, model: o4, permissionMode: read-only }',
        'limits: { maxCostUsd: 12.5 }',
        'agentTimeoutSeconds: 900',
        '',
      ].join('\n'),
    );
    const shown = await runJson(t, [
      'repo',
      'set',
      'app',
      '--settings-file',
      file,
      '--concurrency',
      '4',
    ]);
    expect(shown).toMatchObject({
      testCmd: 'npm run test:unit',
      concurrency: 4,
      agents: { validator: { provider: 'codex', model: 'o4', permissionMode: 'read-only' } },
      settings: { agentTimeoutSeconds: 900, limits: { maxAttempts: 5, maxCostUsd: 12.5 } },
    });
    const json = path.join(dir, 'app.json');
    writeFileSync(json, JSON.stringify({ mode: 'dark', limits: { maxAttempts: 2 } }));
    expect(await runJson(t, ['repo', 'set', 'app', '--settings-file', json])).toMatchObject({
      mode: 'dark',
      settings: { limits: { maxAttempts: 2, maxCostUsd: 12.5 } },
    });
  });

  it('repo add takes the same flags and a settings file', async () => {
    const file = path.join(dir, 'svc.json');
    writeFileSync(
      file,
      JSON.stringify({ testCmd: 'make check', agents: { lead: { provider: 'codex' } } }),
    );
    const added = await runJson(t, [
      'repo',
      'add',
      makeGitRepo('svc'),
      '--settings-file',
      file,
      '--agent-opt',
      'generator.permissionMode=bypassPermissions',
    ]);
    expect(added).toMatchObject({
      name: 'svc',
      testCmd: 'make check',
      agents: {
        lead: { provider: 'codex' },
        generator: { provider: 'claude', permissionMode: 'bypassPermissions' },
      },
    });
  });
});

describe('bad settings: one line naming the setting, nothing stored', () => {
  const bad = (name: string, file: string, text: string) => {
    writeFileSync(path.join(dir, file), text);
    return [name, ['--settings-file', path.join(dir, file)]] as const;
  };
  const cases: [string, string[], RegExp][] = [
    [
      'a credential as a provider variable',
      ['--agent-env', 'validator.OPENAI_API_KEY=sk-live-123'],
      new RegExp(
        'agents\\.validator\\.env\\.OPENAI_API_KEY.*looks like a credential' +
          '.*environment of `loopwright run`',
      ),
    ],
    [
      'a token as a provider variable',
      ['--agent-env', 'lead.GITHUB_TOKEN=ghp_x'],
      /GITHUB_TOKEN.*looks like a credential/,
    ],
    [
      'a password as a provider variable',
      ['--agent-env', 'lead.DB_PASSWORD=x'],
      /DB_PASSWORD.*looks like a credential/,
    ],
    [
      'an unknown provider',
      ['--agent', 'lead=gemini'],
      new RegExp(
        '--agent must be role=provider\\[:model\\] with role lead\\|generator\\|validator ' +
          'and provider claude\\|codex\\|command\\|scripted',
      ),
    ],
    [
      'an unknown agent option',
      ['--agent-opt', 'generator.permision=x'],
      /unknown option "permision" \(allowed: provider, model, permissionMode/,
    ],
    [
      'an unknown role',
      ['--agent-opt', 'boss.model=x'],
      /unknown role "boss" \(allowed: lead, generator, validator\)/,
    ],
    [
      'extraArgs that are not a JSON array',
      ['--agent-opt', 'generator.extraArgs=--allowedTools Bash'],
      /generator\.extraArgs must be a JSON array of strings/,
    ],
    [
      'a non-integer maxTurns',
      ['--agent-opt', 'generator.maxTurns=lots'],
      /maxTurns must be an integer/,
    ],
    [
      'a stall period below the minimum',
      ['--set', 'agentStallSeconds=1'],
      /invalid setting agentStallSeconds: .*>=5/,
    ],
    [
      'an unknown --set key',
      ['--set', 'agentTimeout=5'],
      /unknown setting \(allowed: agentTimeoutSeconds/,
    ],
    [
      'a command provider with no argv',
      ['--agent', 'generator=command'],
      /agents\.generator\.command: the command provider needs its argv/,
    ],
    [
      'a missing script',
      ['--script', '/nonexistent/script.json'],
      /--script \/nonexistent\/script\.json: no such file/,
    ],
    [
      'unset of something not set',
      ['--unset', 'limits.nope'],
      /--unset limits.nope: no such setting/,
    ],
    ['no setting at all', [], /repo set needs at least one setting/],
    ...[
      bad('a settings file with an unknown key', 'unknown.yaml', 'agentz: {}\n'),
      bad('a settings file with a bad enum', 'enum.json', '{"mode":"auto"}'),
      bad('a settings file that does not parse', 'broken.yaml', 'agents: [\n'),
      bad('a settings file that is a list', 'list.json', '[1,2]'),
    ].map(
      ([n, f]) =>
        [n, [...f], /--settings-file|unknown setting agentz/] as [string, string[], RegExp],
    ),
    [
      'a settings file that does not exist',
      ['--settings-file', '/nonexistent.yaml'],
      /no such file/,
    ],
  ];
  it.each(cases)('%s', async (_name, flags, message) => {
    const before = await dumpState(t.db);
    expectBadInput(await runCli(t, ['repo', 'set', 'app', ...flags]), message);
    expect(await dumpState(t.db)).toEqual(before);
  });

  it('a bad script file is refused at add with exit 2', async () => {
    const script = path.join(dir, 'script.json');
    writeFileSync(script, '{"steps": "nope"}');
    expectBadInput(
      await runCli(t, [
        'repo',
        'add',
        makeGitRepo('s1'),
        '--agent',
        'lead=scripted',
        '--script',
        script,
      ]),
      /--script .* is not a valid script/,
    );
  });

  it('under --json an error is the contract document on stderr', async () => {
    const result = await runCli(t, [
      'repo',
      'set',
      'app',
      '--set',
      'agentStallSeconds=1',
      '--json',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(JSON.parse(result.stderr)).toEqual({
      schemaVersion: 1,
      error: {
        code: 'BAD_INPUT',
        message: expect.stringMatching(/^invalid setting agentStallSeconds/),
      },
    });
  });
});

describe('repo add: test command and one name per path', () => {
  it('refuses a repository with no test command it can detect', async () => {
    const repo = makeGitRepo('bare');
    writeFileSync(
      path.join(repo, 'package.json'),
      '{"scripts":{"test":"echo \\"Error: no test specified\\" && exit 1"}}',
    );
    expectBadInput(
      await runCli(t, ['repo', 'add', repo]),
      /no test command found in .*pass --test-cmd/,
    );
  });

  it.each([
    ['Cargo.toml', '[package]\nname = "x"\n', 'cargo test'],
    ['go.mod', 'module x\n', 'go test ./...'],
    ['Makefile', 'test:\n\ttrue\n', 'make test'],
    ['pytest.ini', '[pytest]\n', 'python -m pytest'],
  ])('detects %s', async (file, content, expected) => {
    const repo = makeGitRepo(`detect-${file.replace(/\W/g, '').toLowerCase()}`);
    writeFileSync(path.join(repo, 'package.json'), '{}');
    writeFileSync(path.join(repo, file), content);
    const result = await runCli(t, ['repo', 'add', repo]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`loopwright: test command: ${expected} (`);
  });

  it('refuses a second name for a registered path', async () => {
    const repo = (await getRepositoryByName(t.db, 'app')).path;
    mkdirSync(path.join(repo, 'sub'), { recursive: true });
    expectBadInput(
      await runCli(t, ['repo', 'add', path.join(repo, 'sub'), '--name', 'app2']),
      `${repo} is already registered as repo app`,
    );
  });
});

describe('loopwright repo remove', () => {
  it('deletes a repository without tickets and leaves its files alone', async () => {
    const repo = makeGitRepo('gone');
    await runJson(t, ['repo', 'add', repo]);
    expect(await runJson(t, ['repo', 'remove', 'gone'])).toEqual({
      name: 'gone',
      path: repo,
      removed: 'deleted',
      cancelled: [],
    });
    expectBadInput(await runCli(t, ['repo', 'show', 'gone']), 'unknown repo: gone');
    expect((await runCli(t, ['repo', 'add', repo])).code).toBe(0);
  });

  it('refuses while tickets are active; --force cancels them and keeps their history', async () => {
    await runJson(t, ['repo', 'add', makeGitRepo('busy')]);
    await runJson(t, ['ticket', 'add', '--repo', 'busy', '--title', 'Work']);
    const before = await dumpState(t.db);
    expectBadInput(
      await runCli(t, ['repo', 'remove', 'busy']),
      /repo busy has 1 active ticket\(s\) \(busy-1 QUEUED\); .*--force/,
    );
    expect(await dumpState(t.db)).toEqual(before);
    const removed = await runCli(t, ['repo', 'remove', 'busy', '--force']);
    expect(removed.stdout).toMatch(
      /^removed repo busy \(cancelled busy-1\); .* is untouched; its tickets keep their history/,
    );
    expect((await getTicket(t.db, 'busy-1')).state).toBe('CANCELLED');
    const { repos } = await runJson(t, ['repo', 'list']);
    expect(repos.map((r: { name: string }) => r.name)).not.toContain('busy');
    expectBadInput(
      await runCli(t, ['ticket', 'add', '--repo', 'busy', '--title', 'More']),
      'unknown repo: busy',
    );
    expectBadInput(
      await runCli(t, ['repo', 'add', makeGitRepo('busy2'), '--name', 'busy']),
      /belongs to a removed repository/,
    );
  });
});
