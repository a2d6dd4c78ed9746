/**
 * The codex adapter against the REAL Codex CLI (the devDependency), pointed at the fake model
 * server through a custom model provider. The fake model makes Codex run its own shell tool
 * (`exec_command`, inside its workspace-write sandbox) to write the report.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProvider } from '../../src/agents/providers.js';
import {
  apiError,
  startFakeModelServer,
  text,
  toolCall,
  type FakeTurn,
} from '../helpers/fake-model-server.js';
import { invocation, makeSandbox, onCleanup, transcriptEvents, type Sandbox } from './support.js';

const MODEL = 'gpt-fake-1';

afterEach(() => {
  vi.unstubAllEnvs();
});

/**
 * A fake server plus a codex provider that talks only to it, with an isolated HOME and CODEX_HOME.
 */
async function codexAgainstFake(sandbox: Sandbox, turns: readonly FakeTurn[]) {
  const server = await startFakeModelServer({ openai: turns });
  onCleanup(() => server.close());
  const home = path.join(sandbox.root, 'home');
  mkdirSync(path.join(home, '.codex'), { recursive: true });
  mkdirSync(path.join(sandbox.root, 'tmp'));
  const fakeProvider =
    `model_providers.fake={ name = "fake", base_url = ` +
    `"${server.openaiBaseUrl}", wire_api = "responses", env_key = "OPENAI_API_KEY" }`;
  const provider = createProvider('codex', {
    env: {
      HOME: home,
      TMPDIR: path.join(sandbox.root, 'tmp'),
      CODEX_HOME: path.join(home, '.codex'),
      OPENAI_API_KEY: 'sk-openai-fake',
    },
    extraArgs: ['-c', fakeProvider, '-c', 'model_provider="fake"'],
  });
  return { server, provider };
}

/** An `exec_command` call as Codex's shell tool expects it. */
const shell = (cmd: string): FakeTurn =>
  toolCall('exec_command', { cmd, login: false, yield_time_ms: 5_000 });

describe('codex provider with the real Codex CLI', () => {
  it('writes the report with its shell tool; reports token usage and the thread id', async () => {
    const sandbox = makeSandbox();
    const { server, provider } = await codexAgainstFake(sandbox, [
      shell(
        `mkdir -p .loopwright && printf '%s\\n' '{"summary":"written by codex"}' > ` +
          `.loopwright/report.json`,
      ),
      text('Report written.'),
    ]);

    const outcome = await provider.run(
      invocation(sandbox, {
        role: 'validator',
        model: MODEL,
        prompt: '-Review the change (a prompt that starts like a flag).',
        systemPrompt: 'CHARTER: you are the "Validator".\nFail when in doubt.',
      }),
    );

    expect(outcome).toMatchObject({
      status: 'ok',
      exitCode: 0,
      subtype: 'turn.completed',
      costUsd: null,
      outputTruncated: false,
    });
    expect(
      JSON.parse(readFileSync(path.join(sandbox.cwd, '.loopwright/report.json'), 'utf8')),
    ).toEqual({ summary: 'written by codex' });
    // Two model calls of the fake's default usage (120 in, 30 out each).
    expect(outcome.tokensIn).toBe(240);
    expect(outcome.tokensOut).toBe(60);
    const thread = transcriptEvents(sandbox.transcript()).find((e) => e.type === 'thread.started')!;
    expect(outcome.sessionId).toBe(thread.thread_id);

    const request = server.turnRequests('openai')[0]!.body as Record<string, unknown>;
    expect(request.model).toBe(MODEL);
    expect(JSON.stringify(request.input)).toContain(
      JSON.stringify('CHARTER: you are the "Validator".\nFail when in doubt.').slice(1, -1),
    );
    expect(JSON.stringify(request.input)).toContain(
      '-Review the change (a prompt that starts like a flag).',
    );
  });

  it('reports a failed turn as status error with the API message', async () => {
    const sandbox = makeSandbox();
    const { provider } = await codexAgainstFake(sandbox, [
      apiError(400, 'invalid_request_error', 'fake model refuses'),
    ]);

    const outcome = await provider.run(invocation(sandbox, { model: MODEL }));

    expect(outcome.status).toBe('error');
    expect(outcome.exitCode).toBe(1);
    expect(outcome.subtype).toBe('turn.failed');
    expect(outcome.errorMessage).toBe('fake model refuses');
  });

  it("runs the agent's shell tool with the scrubbed environment", async () => {
    for (const [name, value] of Object.entries({
      GITHUB_TOKEN: 'ghp_parent',
      LINEAR_API_KEY: 'lin_parent',
      DATABASE_URL: 'postgres://parent',
      ANTHROPIC_API_KEY: 'sk-ant-parent',
      PGPASSWORD: 'pg',
    })) {
      vi.stubEnv(name, value);
    }
    const sandbox = makeSandbox();
    const { provider } = await codexAgainstFake(sandbox, [shell('env > env.txt'), text('done')]);

    const outcome = await provider.run(
      invocation(sandbox, { model: MODEL, env: { LOOPWRIGHT_TICKET: 'LW-7' } }),
    );

    expect(outcome.status).toBe('ok');
    const seen = readFileSync(path.join(sandbox.cwd, 'env.txt'), 'utf8');
    expect(seen).toMatch(/^LOOPWRIGHT_TICKET=LW-7$/m);
    expect(seen).toMatch(/^OPENAI_API_KEY=sk-openai-fake$/m);
    for (const name of [
      'GITHUB_TOKEN',
      'LINEAR_API_KEY',
      'DATABASE_URL',
      'ANTHROPIC_API_KEY',
      'PGPASSWORD',
    ])
      expect(seen).not.toMatch(new RegExp(`^${name}=`, 'm'));
  });
});
