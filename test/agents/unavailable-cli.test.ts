/**
 * Agents that cannot work, against the REAL claude and codex CLIs: no credentials, credentials the
 * (fake) model server refuses with 401, a model that cannot be reached, a missing binary, and an
 * agent that goes silent. Each ends as `unavailable` or `stalled` — never as a contract violation —
 * quickly, and the AGENT_UNAVAILABLE event names the fix.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { preflightAgents } from '../../src/agents/preflight.js';
import { createProvider } from '../../src/agents/providers.js';
import { unavailableEvent } from '../../src/agents/unavailable-event.js';
import { repoSettingsSchema } from '../../src/config/repo-settings.js';
import { apiError, startFakeModelServer } from '../helpers/fake-model-server.js';
import { invocation, makeSandbox, onCleanup, type Sandbox } from './support.js';

function isolatedHome(sandbox: Sandbox): { HOME: string; TMPDIR: string } {
  const home = path.join(sandbox.root, 'home');
  mkdirSync(path.join(home, '.codex'), { recursive: true });
  mkdirSync(path.join(sandbox.root, 'tmp'), { recursive: true });
  return { HOME: home, TMPDIR: path.join(sandbox.root, 'tmp') };
}

const claudeEnv = (sandbox: Sandbox, extra: Record<string, string>) => {
  const base = isolatedHome(sandbox);
  return {
    ...base,
    CLAUDE_CONFIG_DIR: path.join(base.HOME, '.claude'),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    ...extra,
  };
};

const facts = { runId: '00000000-0000-4000-8000-000000000001', costUsd: 0, stallSeconds: 120 };

describe('agents that cannot reach their model', () => {
  it('claude with no credentials is unavailable within seconds, and the event names ' +
    'ANTHROPIC_API_KEY and claude login', async () => {
    const sandbox = makeSandbox();
    const provider = createProvider('claude', {
      env: claudeEnv(sandbox, { ANTHROPIC_API_KEY: '' }),
    });
    const started = Date.now();
    const outcome = await provider.run(invocation(sandbox));
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(outcome.status).toBe('unavailable');
    expect(outcome.errorMessage).toMatch(/Not logged in/);
    const event = unavailableEvent(outcome, {
      ...facts,
      role: 'generator',
      choice: { provider: 'claude' },
    });
    expect(event).toMatchObject({ type: 'AGENT_UNAVAILABLE', reason: 'AGENT_UNAVAILABLE' });
    expect((event as { detail: string }).detail).toMatch(
      /^generator uses claude: set ANTHROPIC_API_KEY or run `claude login`/,
    );
  }, 60_000);

  it('claude whose key the model server refuses (401) is stopped at the first ' +
    'retry, not after ten', async () => {
    const sandbox = makeSandbox();
    const server = await startFakeModelServer({
      anthropic: [apiError(401, 'authentication_error', 'invalid x-api-key')],
    });
    onCleanup(() => server.close());
    const provider = createProvider('claude', {
      env: claudeEnv(sandbox, {
        ANTHROPIC_API_KEY: 'sk-ant-wrong',
        ANTHROPIC_BASE_URL: server.url,
      }),
    });
    const started = Date.now();
    const outcome = await provider.run(invocation(sandbox, { stallMs: 60_000 }));
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(outcome.status).toBe('unavailable');
    expect(outcome.errorMessage).toMatch(/refused the credentials \(HTTP 401\)/);
  }, 60_000);

  it('codex whose key the model server refuses (401) is unavailable and names OPENAI_API_KEY ' +
    'and codex login', async () => {
    const sandbox = makeSandbox();
    const server = await startFakeModelServer({
      openai: [apiError(401, 'invalid_request_error', 'Incorrect API key provided')],
    });
    onCleanup(() => server.close());
    const home = isolatedHome(sandbox);
    const provider = createProvider('codex', {
      env: { ...home, CODEX_HOME: path.join(home.HOME, '.codex'), OPENAI_API_KEY: 'sk-wrong' },
      extraArgs: [
        '-c',
        `model_providers.fake={ name = "fake", base_url = "${server.openaiBaseUrl}", wire_api ` +
          `= "responses", env_key = "OPENAI_API_KEY" }`,
        '-c',
        'model_provider="fake"',
      ],
    });
    const outcome = await provider.run(invocation(sandbox, { role: 'validator', stallMs: 60_000 }));
    expect(outcome.status).toBe('unavailable');
    expect(outcome.errorMessage).toMatch(/401/);
    const event = unavailableEvent(outcome, {
      ...facts,
      role: 'validator',
      choice: { provider: 'codex', model: 'gpt-5' },
    });
    expect((event as { detail: string }).detail).toMatch(
      /^validator uses codex \(gpt-5\): set OPENAI_API_KEY or run `codex login`/,
    );
  }, 60_000);

  it('codex that cannot reach its model only prints reconnect messages, so it stalls', async () => {
    const sandbox = makeSandbox();
    const home = isolatedHome(sandbox);
    const provider = createProvider('codex', {
      env: { ...home, CODEX_HOME: path.join(home.HOME, '.codex'), OPENAI_API_KEY: 'sk-x' },
      extraArgs: [
        '-c',
        'model_providers.fake={ name = "fake", base_url = "http://127.0.0.1:9/v1", wire_api = ' +
          '"responses", env_key = "OPENAI_API_KEY" }',
        '-c',
        'model_provider="fake"',
      ],
    });
    const started = Date.now();
    const outcome = await provider.run(invocation(sandbox, { stallMs: 8_000 }));
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(['stalled', 'unavailable']).toContain(outcome.status);
    const event = unavailableEvent(outcome, {
      ...facts,
      role: 'validator',
      choice: { provider: 'codex' },
    });
    expect(event).toMatchObject({ type: 'AGENT_UNAVAILABLE' });
  }, 60_000);

  it('a missing binary is unavailable with the install fix', async () => {
    const sandbox = makeSandbox();
    const provider = createProvider('claude', { command: ['/nonexistent/claude'] });
    const outcome = await provider.run(invocation(sandbox));
    expect(outcome.status).toBe('unavailable');
    const event = unavailableEvent(outcome, {
      ...facts,
      role: 'lead',
      choice: { provider: 'claude' },
    });
    expect((event as { detail: string }).detail).toMatch(
      /^lead uses claude: the claude CLI cannot be started/,
    );
  });

  it("stops a silent command agent as stalled after the stall period; output won't", async () => {
    const sandbox = makeSandbox();
    const silent = createProvider('command', { command: ['sh', '-c', 'sleep 30'] });
    const started = Date.now();
    const outcome = await silent.run(invocation(sandbox, { stallMs: 1_000 }));
    expect(outcome.status).toBe('stalled');
    expect(Date.now() - started).toBeLessThan(10_000);
    const event = unavailableEvent(outcome, {
      ...facts,
      stallSeconds: 1,
      role: 'generator',
      choice: { provider: 'command', command: ['sh'] },
    });
    expect(event).toMatchObject({ reason: 'AGENT_STALLED' });
    const detail = (event && 'detail' in event ? event.detail : undefined) ?? '';
    expect(detail).toContain('no progress for 1s (only silence or reconnect messages)');
    expect(detail.match(/no progress/g)).toHaveLength(1);
    const talking = createProvider('command', {
      command: ['sh', '-c', 'for i in 1 2 3 4; do echo working; sleep 0.5; done'],
    });
    expect((await talking.run(invocation(sandbox, { stallMs: 1_500 }))).status).toBe('ok');
  });
});

describe('preflight', () => {
  it('names the fix per role for missing credentials, and passes when a key is set', async () => {
    const home = makeSandbox().root;
    const settings = repoSettingsSchema.parse({});
    const problems = await preflightAgents(settings, {
      env: { PATH: process.env.PATH, HOME: home },
    });
    expect(problems.map((p) => p.message)).toEqual([
      'lead uses claude: set ANTHROPIC_API_KEY or run `claude login`',
      'generator uses claude: set ANTHROPIC_API_KEY or run `claude login`',
      'validator uses codex: set OPENAI_API_KEY or run `codex login`',
    ]);
    expect(
      await preflightAgents(settings, {
        env: { PATH: process.env.PATH, HOME: home, ANTHROPIC_API_KEY: 'k', OPENAI_API_KEY: 'k' },
      }),
    ).toEqual([]);
  }, 60_000);

  it('a command provider whose program does not exist is a binary problem', async () => {
    const settings = repoSettingsSchema.parse({
      agents: { lead: { provider: 'command', command: ['no-such-agent-program'] } },
    });
    const problems = await preflightAgents(settings, {
      env: {
        PATH: process.env.PATH,
        HOME: '/nonexistent',
        ANTHROPIC_API_KEY: 'k',
        OPENAI_API_KEY: 'k',
      },
      skipVersion: true,
    });
    expect(problems).toEqual([expect.objectContaining({ role: 'lead', check: 'binary' })]);
  });
});
