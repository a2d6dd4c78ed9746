/**
 * The orchestrator session for real: the Claude Code CLI (`claude -p`, the pinned devDependency)
 * pointed at the fake model server, with the MCP config that `loopwright mcp install --client
 * claude --print` printed (run as the installed bin, so the snippet is exactly what a user
 * pastes). The fake model's turns call the loopwright tools: a bad batch (refused, nothing
 * stored), a dependent batch of two tickets, the approvals a copilot repository needs, and the
 * oracle. Scripted agents drive the tickets to LIVE in between; the journal shows the MCP actor
 * on every operator action.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TICKETS } from '../../src/demo/playbook.js';
import { getBatchByName } from '../../src/db/batches.js';
import { readJournal } from '../../src/db/journal.js';
import { getTicket } from '../../src/db/tickets.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import {
  startFakeModelServer,
  text,
  toolCall,
  type FakeTurn,
  type RecordedRequest,
} from '../helpers/fake-model-server.js';
import { type Exit, registerDemoRepo, runClosedStdin } from '../helpers/mcp-session.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLAUDE = path.join(ROOT, 'node_modules/.bin/claude');
const BIN = path.join(ROOT, 'bin/loopwright.js');

let t: TestDb;
let root: string;
let home: string;
let mcpConfig: string;

beforeAll(async () => {
  t = await createTestDb(8);
  root = mkdtempSync(path.join(tmpdir(), 'lw-mcp-claude-'));
  home = path.join(root, 'factory');
  mkdirSync(home);
  await registerDemoRepo(t.db, root, 'copilot');
  const printed = await run(
    process.execPath,
    [BIN, 'mcp', 'install', '--client', 'claude', '--print'],
    factoryEnv(),
  );
  expect(printed.code).toBe(0);
  mcpConfig = path.join(root, 'loopwright-mcp.json');
  writeFileSync(mcpConfig, printed.stdout);
}, 60_000);

afterAll(async () => {
  await t?.drop();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** What the user's shell has: where the factory is, which database. */
function factoryEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: path.join(root, 'home'),
    LOOPWRIGHT_HOME: home,
    LOOPWRIGHT_DATABASE_URL: t.url,
  };
}

/** Run a command with stdin closed, killed after 5 min. */
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Exit> {
  return runClosedStdin(command, args, { env });
}

/** One `claude -p` session whose model plays `turns`; returns the requests the CLI sent. */
async function session(turns: readonly FakeTurn[]): Promise<readonly RecordedRequest[]> {
  const server = await startFakeModelServer({ anthropic: turns });
  try {
    const claudeHome = path.join(root, 'home');
    mkdirSync(path.join(claudeHome, '.claude'), { recursive: true });
    const result = await run(
      CLAUDE,
      [
        '-p',
        '--model',
        'claude-fake-1',
        '--mcp-config',
        mcpConfig,
        '--strict-mcp-config',
        '--allowedTools',
        'mcp__loopwright',
        '--output-format',
        'stream-json',
        '--verbose',
        '--',
        'Ship the demo features as one batch.',
      ],
      {
        ...factoryEnv(),
        CLAUDE_CONFIG_DIR: path.join(claudeHome, '.claude'),
        ANTHROPIC_BASE_URL: server.url,
        ANTHROPIC_API_KEY: 'sk-ant-fake',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_ERROR_REPORTING: '1',
        MCP_TIMEOUT: '30000',
        // claude -p may take its first turn before MCP servers connect; wait for them.
        MCP_CONNECTION_NONBLOCKING: '0',
      },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return server.turnRequests('anthropic');
  } finally {
    await server.close();
  }
}

interface ToolResult {
  readonly isError: boolean;
  readonly text: string;
}

/** The tool results the CLI sent back to the model, in order. */
function toolResults(requests: readonly RecordedRequest[]): ToolResult[] {
  const last = requests.at(-1)!.body as { messages: { role: string; content: unknown }[] };
  const results: ToolResult[] = [];
  for (const message of last.messages) {
    if (message.role !== 'user' || !Array.isArray(message.content)) continue;
    for (const block of message.content as Record<string, unknown>[]) {
      if (block.type !== 'tool_result') continue;
      const content = block.content;
      const body = Array.isArray(content)
        ? (content as { text?: string }[]).map((c) => c.text ?? '').join('\n')
        : String(content);
      results.push({ isError: block.is_error === true, text: body });
    }
  }
  return results;
}

/**
 * `loopwright run --until-idle` as a subprocess of the same installed bin the MCP server runs
 * (the oracle pins its own compiled code, so the factory and the server must be one build).
 * Its exit code says whether a person is needed; the test asserts on ticket states instead.
 */
async function runFactoryUntilIdle(): Promise<void> {
  const result = await run(process.execPath, [BIN, 'run', '--until-idle', '--concurrency', '2'], {
    ...factoryEnv(),
    LOOPWRIGHT_LOG_LEVEL: 'warn',
  });
  expect(result.code, result.stderr).not.toBeNull();
}

const [SLUG, PAGE] = DEMO_TICKETS;
const tool = (name: string, input: unknown) => toolCall(`mcp__loopwright__${name}`, input);

describe('a Claude Code session drives the factory through loopwright mcp', () => {
  it('files a dependent batch, approves, and hears done from the oracle', async () => {
    const first = await session([
      tool('file_tickets', {
        batch: 'bad',
        tickets: [
          { name: 'a', repo: 'demo', title: 'A', dependsOn: ['b'] },
          { name: 'b', repo: 'demo', title: 'B', dependsOn: ['a'] },
        ],
      }),
      tool('file_tickets', { batch: 'bad', tickets: [{ name: 'a', repo: 'nope', title: 'A' }] }),
      tool('file_tickets', {
        batch: 'site',
        tickets: [
          { name: 'titles', repo: 'demo', title: PAGE.title, body: PAGE.body, dependsOn: ['slug'] },
          { name: 'slug', repo: 'demo', title: SLUG.title, body: SLUG.body },
        ],
      }),
      text('Filed the batch.'),
    ]);
    const filed = toolResults(first);
    expect(filed.map((r) => r.isError)).toEqual([true, true, false]);
    expect(filed[0]!.text).toMatch(/dependency cycle: a -> b -> a/);
    expect(filed[1]!.text).toMatch(/unknown repo: nope/);
    // Claude Code hands the model the structured answer.
    expect(JSON.parse(filed[2]!.text)).toMatchObject({
      batch: 'site',
      tickets: [
        { name: 'slug', key: 'demo-1', dependsOn: [] },
        { name: 'titles', key: 'demo-2', dependsOn: ['demo-1'] },
      ],
    });
    await expect(getBatchByName(t.db, 'bad')).rejects.toThrow(/unknown batch/);

    await runFactoryUntilIdle();
    expect(await stateOf('demo-1')).toBe('SHIP.awaiting_approval');
    const second = await session([
      tool('board', {}),
      tool('approve', { ticket: 'demo-1' }),
      text('ok'),
    ]);
    const [board, approved] = toolResults(second);
    expect(JSON.parse(board!.text).needsPerson).toEqual([
      expect.objectContaining({
        key: 'demo-1',
        substate: 'awaiting_approval',
        action: expect.stringMatching(/^approve/),
      }),
    ]);
    expect(approved).toMatchObject({ isError: false });

    await runFactoryUntilIdle();
    expect(await stateOf('demo-1')).toBe('LIVE');
    expect(await stateOf('demo-2')).toBe('SHIP.awaiting_approval');
    const third = await session([
      tool('oracle', { batch: 'site' }),
      tool('approve', { ticket: 'demo-2' }),
      text('ok'),
    ]);
    const [notYet, approved2] = toolResults(third);
    expect(JSON.parse(notYet!.text)).toMatchObject({ done: false, missing: ['demo-2'] });
    expect(approved2).toMatchObject({ isError: false });

    await runFactoryUntilIdle();
    const last = await session([tool('oracle', { batch: 'site' }), text('Done.')]);
    const [done] = toolResults(last);
    expect(done).toMatchObject({ isError: false });
    expect(JSON.parse(done!.text)).toMatchObject({ batch: 'site', done: true, missing: [] });

    for (const key of ['demo-1', 'demo-2']) {
      const journal = await readJournal(t.db, (await getTicket(t.db, key)).id);
      const operatorRows = journal.filter((r) => r.actor.startsWith('operator:'));
      expect(operatorRows.map((r) => [r.event_type, r.actor])).toEqual([
        ['CREATED', 'operator:mcp:claude-code'],
        ['APPROVE', 'operator:mcp:claude-code'],
      ]);
      expect(journal.at(-1)!.to_state).toBe('LIVE');
    }
  }, 900_000);
});

async function stateOf(key: string): Promise<string> {
  const ticket = await getTicket(t.db, key);
  return ticket.substate ? `${ticket.state}.${ticket.substate}` : ticket.state;
}
