/**
 * Environment scrubbing, observed from inside real child processes: each provider's child sees
 * the allow-list, its own vendor's variables and the task's LOOPWRIGHT_* variables — nothing else.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AgentProvider } from '../../src/agents/provider.js';
import { createProvider } from '../../src/agents/providers.js';
import { invocation, makeSandbox } from './support.js';

/** Secrets and unrelated variables in the worker's own environment. */
const PARENT_ENV: Record<string, string> = {
  GITHUB_TOKEN: 'ghp_parent',
  GH_TOKEN: 'gho_parent',
  LINEAR_API_KEY: 'lin_parent',
  DATABASE_URL: 'postgres://parent',
  LOOPWRIGHT_DATABASE_URL: 'postgres://loopwright-parent',
  LOOPWRIGHT_HOME: '/home/parent/.loopwright',
  PGPASSWORD: 'pg_parent',
  AWS_SECRET_ACCESS_KEY: 'aws_parent',
  NODE_OPTIONS: '--inspect',
  SOME_OTHER_VARIABLE: 'other',
  ANTHROPIC_API_KEY: 'sk-ant-parent',
  CLAUDE_CODE_MAX_OUTPUT_TOKENS: '4096',
  OPENAI_API_KEY: 'sk-openai-parent',
  CODEX_HOME: '/home/parent/.codex',
};

const NEVER = [
  'GITHUB_TOKEN',
  'GH_TOKEN',
  'LINEAR_API_KEY',
  'DATABASE_URL',
  'LOOPWRIGHT_DATABASE_URL',
  'LOOPWRIGHT_HOME',
  'PGPASSWORD',
  'AWS_SECRET_ACCESS_KEY',
  'NODE_OPTIONS',
  'SOME_OTHER_VARIABLE',
];
const ANTHROPIC_VARS = ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_MAX_OUTPUT_TOKENS'];
const OPENAI_VARS = ['OPENAI_API_KEY', 'CODEX_HOME'];

beforeEach(() => {
  for (const [name, value] of Object.entries(PARENT_ENV)) vi.stubEnv(name, value);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

/** Run `provider` with a program that writes its environment to env.json in the worktree. */
async function envSeenBy(
  provider: AgentProvider,
  viaOptions: boolean,
): Promise<Record<string, string>> {
  const sandbox = makeSandbox();
  const dumper = path.join(sandbox.root, 'dump-env.cjs');
  writeFileSync(
    dumper,
    `require('node:fs').writeFileSync('env.json', JSON.stringify(process.env));`,
  );
  const outcome = await provider.run(
    invocation(sandbox, {
      env: {
        LOOPWRIGHT_TICKET: 'LW-7',
        LOOPWRIGHT_DATABASE_URL: 'postgres://smuggled',
        GITHUB_TOKEN: 'ghp_smuggled',
      },
      ...(viaOptions ? { options: { command: [process.execPath, dumper] } } : {}),
    }),
  );
  expect(outcome.process).toBeDefined();
  return JSON.parse(readFileSync(path.join(sandbox.cwd, 'env.json'), 'utf8')) as Record<
    string,
    string
  >;
}

function expectTaskAndBase(env: Record<string, string>): void {
  expect(env.PATH).toBe(process.env.PATH);
  expect(env.HOME).toBe(process.env.HOME);
  expect(env).toMatchObject({
    LOOPWRIGHT_TICKET: 'LW-7',
    LOOPWRIGHT_ROLE: 'generator',
    LOOPWRIGHT_PHASE: 'BUILD',
    LOOPWRIGHT_RUN_ID: 'run-1',
    LOOPWRIGHT_TASK_FILE: '.loopwright/task.md',
  });
  for (const name of NEVER) expect(env, name).not.toHaveProperty(name);
}

describe('agent environment', () => {
  it('gives a claude child its Anthropic variables, none of OpenAI, trackers, db', async () => {
    const env = await envSeenBy(createProvider('claude'), true);
    expectTaskAndBase(env);
    for (const name of ANTHROPIC_VARS) expect(env[name], name).toBe(PARENT_ENV[name]);
    for (const name of OPENAI_VARS) expect(env, name).not.toHaveProperty(name);
  });

  it('gives a codex child its own OpenAI variables and no Anthropic key', async () => {
    const env = await envSeenBy(createProvider('codex'), true);
    expectTaskAndBase(env);
    for (const name of OPENAI_VARS) expect(env[name], name).toBe(PARENT_ENV[name]);
    for (const name of ANTHROPIC_VARS) expect(env, name).not.toHaveProperty(name);
  });

  it("gives a command child its configured vendor's key, and none by default", async () => {
    const sandbox = makeSandbox();
    const dumper = [
      process.execPath,
      '-e',
      `require('node:fs').writeFileSync('env.json', JSON.stringify(process.env))`,
    ];
    const anthropicEnv = await envSeenBy(
      createProvider('command', { command: dumper, vendor: 'anthropic' }),
      false,
    );
    expectTaskAndBase(anthropicEnv);
    expect(anthropicEnv.ANTHROPIC_API_KEY).toBe('sk-ant-parent');
    expect(anthropicEnv).not.toHaveProperty('OPENAI_API_KEY');
    expect(anthropicEnv.LOOPWRIGHT_PROMPT).toBe(invocation(sandbox).prompt);

    const plainEnv = await envSeenBy(createProvider('command', { command: dumper }), false);
    expectTaskAndBase(plainEnv);
    for (const name of [...ANTHROPIC_VARS, ...OPENAI_VARS])
      expect(plainEnv, name).not.toHaveProperty(name);
  });

  it('gives the scripted agent no vendor key at all', async () => {
    const env = await envSeenBy(createProvider('scripted'), true);
    expectTaskAndBase(env);
    for (const name of [...ANTHROPIC_VARS, ...OPENAI_VARS])
      expect(env, name).not.toHaveProperty(name);
  });

  it('filters operator-configured variables through the same allow-list', async () => {
    const provider = createProvider('claude', {
      env: {
        ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
        GITHUB_TOKEN: 'ghp_configured',
        HOME: '/tmp/agent-home',
      },
    });
    const env = await envSeenBy(provider, true);
    expect(env.ANTHROPIC_BASE_URL).toBe('http://127.0.0.1:9');
    expect(env.HOME).toBe('/tmp/agent-home');
    expect(env).not.toHaveProperty('GITHUB_TOKEN');
  });
});
