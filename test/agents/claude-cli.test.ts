/**
 * The claude adapter against the REAL Claude Code CLI (the devDependency), pointed at the fake
 * model server on 127.0.0.1. The fake model makes the CLI call its own Write and Bash tools, so
 * the report is written through Claude Code's real tool machinery.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProvider, type ProviderConfig } from '../../src/agents/providers.js';
import {
  apiError,
  startFakeModelServer,
  text,
  toolCall,
  type FakeModelServer,
  type FakeTurn,
} from '../helpers/fake-model-server.js';
import { isProcessAlive } from '../../src/agents/process-identity.js';
import {
  eventually,
  invocation,
  isGone,
  killGroupQuietly,
  makeSandbox,
  onCleanup,
  transcriptEvents,
  type Sandbox,
} from './support.js';

const MODEL = 'claude-fake-1';

afterEach(() => {
  vi.unstubAllEnvs();
});

/** A fake server plus a claude provider that talks only to it, with an isolated HOME. */
async function claudeAgainstFake(
  sandbox: Sandbox,
  turns: readonly FakeTurn[],
  extra: ProviderConfig = {},
) {
  const server = await startFakeModelServer({ anthropic: turns });
  onCleanup(() => server.close());
  const home = path.join(sandbox.root, 'home');
  mkdirSync(path.join(sandbox.root, 'tmp'), { recursive: true });
  mkdirSync(home);
  const provider = createProvider('claude', {
    ...extra,
    env: {
      HOME: home,
      TMPDIR: path.join(sandbox.root, 'tmp'),
      CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
      ANTHROPIC_BASE_URL: server.url,
      ANTHROPIC_API_KEY: 'sk-ant-fake',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
    },
  });
  return { server, provider };
}

function firstTurn(server: FakeModelServer): Record<string, unknown> {
  return server.turnRequests('anthropic')[0]!.body as Record<string, unknown>;
}

describe('claude provider with the real Claude Code CLI', () => {
  it('writes the report with the Write tool; reports cost, usage, session, subtype', async () => {
    const sandbox = makeSandbox();
    const reportPath = path.join(sandbox.cwd, '.loopwright/report.json');
    const { server, provider } = await claudeAgainstFake(sandbox, [
      toolCall('Write', {
        file_path: reportPath,
        content: '{"summary":"written by the Write tool"}\n',
      }),
      text('Report written.'),
    ]);

    const outcome = await provider.run(
      invocation(sandbox, {
        model: MODEL,
        prompt: '-Read .loopwright/task.md (a prompt that starts like a flag).',
        systemPrompt: 'CHARTER: you are the Generator.',
        options: { maxTurns: 5, maxBudgetUsd: 5 },
      }),
    );

    expect(outcome).toMatchObject({
      status: 'ok',
      exitCode: 0,
      subtype: 'success',
      outputTruncated: false,
    });
    expect(JSON.parse(readFileSync(reportPath, 'utf8'))).toEqual({
      summary: 'written by the Write tool',
    });
    const result = transcriptEvents(sandbox.transcript()).find((e) => e.type === 'result')!;
    expect(outcome.costUsd).toBe(result.total_cost_usd);
    expect(outcome.costUsd).toBeGreaterThan(0);
    // Two model calls of the fake's default usage: 120 input + 5 cache writes + 7 cache reads, 30
    // output.
    expect(outcome.tokensIn).toBe(2 * (120 + 5 + 7));
    expect(outcome.tokensOut).toBe(2 * 30);
    expect(outcome.sessionId).toBe(result.session_id);
    expect(outcome.sessionId).toMatch(/^[0-9a-f-]{36}$/);

    const request = firstTurn(server);
    expect(request.model).toBe(MODEL);
    expect(JSON.stringify(request.system)).toContain('CHARTER: you are the Generator.');
    expect(JSON.stringify(request.messages)).toContain(
      '-Read .loopwright/task.md (a prompt that starts like a flag).',
    );
    expect(server.turnRequests('anthropic')).toHaveLength(2);
  });

  it('reports a model API error as status error with the API message', async () => {
    const sandbox = makeSandbox();
    const { provider } = await claudeAgainstFake(sandbox, [
      apiError(400, 'invalid_request_error', 'fake model refuses'),
    ]);

    const outcome = await provider.run(invocation(sandbox, { model: MODEL }));

    expect(outcome.status).toBe('error');
    expect(outcome.exitCode).toBe(1);
    expect(outcome.errorMessage).toContain('fake model refuses');
  });

  it('stops at --max-turns and does not call that a success', async () => {
    const sandbox = makeSandbox();
    const { server, provider } = await claudeAgainstFake(sandbox, [
      toolCall('Write', { file_path: path.join(sandbox.cwd, 'notes.txt'), content: 'x' }),
    ]);

    const outcome = await provider.run(
      invocation(sandbox, { model: MODEL, options: { maxTurns: 1 } }),
    );

    expect(outcome.status).toBe('error');
    expect(outcome.subtype).toBe('error_max_turns');
    expect(server.turnRequests('anthropic')).toHaveLength(1);
  });

  it('on timeout also kills what its Bash tool started in a session of its own', async () => {
    const sandbox = makeSandbox();
    const { provider } = await claudeAgainstFake(
      sandbox,
      [
        toolCall('Bash', {
          command: 'echo $$ > sleeper.pid && exec sleep 120',
          description: 'wait a long time',
        }),
        text('done'),
      ],
      { extraArgs: ['--allowedTools', 'Bash'], killGraceMs: 1_000 },
    );

    // The CLI's start and its first tool call took over 4 s once under the full suite on 2
    // cores, and the timeout came before the sleeper existed: 15 s leaves room for that.
    const outcome = await provider.run(invocation(sandbox, { model: MODEL, timeoutMs: 15_000 }));

    expect(outcome.status).toBe('timeout');
    const sleeper = Number(readFileSync(path.join(sandbox.cwd, 'sleeper.pid'), 'utf8'));
    onCleanup(() => killGroupQuietly(sleeper));
    expect(sleeper).toBeGreaterThan(0);
    expect(isProcessAlive(sleeper)).toBe(false);
    expect(await eventually(() => isGone(sleeper))).toBe(true);
  });

  it("runs the agent's shell tools with the scrubbed environment", async () => {
    for (const [name, value] of Object.entries({
      GITHUB_TOKEN: 'ghp_parent',
      LINEAR_API_KEY: 'lin_parent',
      DATABASE_URL: 'postgres://parent',
      OPENAI_API_KEY: 'sk-openai-parent',
    })) {
      vi.stubEnv(name, value);
    }
    const sandbox = makeSandbox();
    const { provider } = await claudeAgainstFake(
      sandbox,
      [
        toolCall('Bash', { command: 'env > env.txt', description: 'dump the environment' }),
        text('done'),
      ],
      { extraArgs: ['--allowedTools', 'Bash'] },
    );

    const outcome = await provider.run(
      invocation(sandbox, { model: MODEL, env: { LOOPWRIGHT_TICKET: 'LW-7' } }),
    );

    expect(outcome.status).toBe('ok');
    const seen = readFileSync(path.join(sandbox.cwd, 'env.txt'), 'utf8');
    expect(seen).toMatch(/^LOOPWRIGHT_TICKET=LW-7$/m);
    expect(seen).toMatch(/^ANTHROPIC_API_KEY=sk-ant-fake$/m);
    for (const name of ['GITHUB_TOKEN', 'LINEAR_API_KEY', 'DATABASE_URL', 'OPENAI_API_KEY'])
      expect(seen).not.toMatch(new RegExp(`^${name}=`, 'm'));
  });
});
