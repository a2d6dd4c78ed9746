/**
 * The orchestrator session on Codex: the real Codex CLI (`codex exec`, the devDependency) on the
 * fake model server, with the `[mcp_servers.loopwright]` table `loopwright mcp install --client
 * codex` wrote into its CODEX_HOME (the database URL forwarded by name, never copied). Codex groups
 * an MCP server's tools in the namespace `mcp__loopwright`; the fake model calls them there. A bad
 * batch is refused with nothing stored, a dependent batch is filed, scripted agents drive it to
 * LIVE (dark mode: no approvals), and the oracle says done.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TICKETS } from '../../src/demo/playbook.js';
import { getBatchByName } from '../../src/db/batches.js';
import { readJournal } from '../../src/db/journal.js';
import { getTicket } from '../../src/db/tickets.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import {
  namespacedToolCall,
  startFakeModelServer,
  text,
  toolCall,
  type FakeTurn,
  type RecordedRequest,
} from '../helpers/fake-model-server.js';
import { registerDemoRepo, runClosedStdin } from '../helpers/mcp-session.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CODEX = path.join(ROOT, 'node_modules/.bin/codex');
const BIN = path.join(ROOT, 'bin/loopwright.js');

let t: TestDb;
let root: string;

beforeAll(async () => {
  t = await createTestDb(8);
  root = mkdtempSync(path.join(tmpdir(), 'lw-mcp-codex-'));
  mkdirSync(path.join(root, 'factory'));
  mkdirSync(path.join(root, 'home', '.codex'), { recursive: true });
  await registerDemoRepo(t.db, root, 'dark');
  const installed = await run(
    process.execPath,
    [BIN, 'mcp', 'install', '--client', 'codex'],
    env(),
  );
  expect(installed.code, installed.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await t?.drop();
  if (root) rmSync(root, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: path.join(root, 'home'),
    CODEX_HOME: path.join(root, 'home', '.codex'),
    LOOPWRIGHT_HOME: path.join(root, 'factory'),
    LOOPWRIGHT_DATABASE_URL: t.url,
  };
}

function run(command: string, args: readonly string[], e: NodeJS.ProcessEnv, cwd = root) {
  return runClosedStdin(command, args, { env: e, cwd });
}

/** One `codex exec` session whose model plays `turns`; the requests Codex sent. */
async function session(turns: readonly FakeTurn[]): Promise<readonly RecordedRequest[]> {
  // Codex fixes the tools a reply may call when it sends the request, and `codex exec` sends the
  // first one without waiting for MCP servers: the session opens with a built-in call (listing
  // the MCP resources) answered slowly, so every later request carries the loopwright tools.
  const server = await startFakeModelServer({
    openai: [toolCall('list_mcp_resources', {}), ...turns],
    firstReplyDelayMs: 3_000,
  });
  try {
    const provider =
      `model_providers.fake={ name = "fake", base_url = ` +
      `"${server.openaiBaseUrl}", wire_api = "responses", env_key = "OPENAI_API_KEY" }`;
    const result = await run(
      CODEX,
      [
        'exec',
        '--json',
        '--skip-git-repo-check',
        '--sandbox',
        'read-only',
        '-c',
        provider,
        '-c',
        'model_provider="fake"',
        '--model',
        'gpt-fake-1',
        'Ship the demo features as one batch.',
      ],
      { ...env(), OPENAI_API_KEY: 'sk-openai-fake' },
    );
    expect(result.code, result.stderr).toBe(0);
    return server.turnRequests('openai');
  } finally {
    await server.close();
  }
}

/** What Codex handed back to the model for each tool call, in order. */
function toolOutputs(requests: readonly RecordedRequest[]): string[] {
  const input = (requests.at(-1)!.body as { input: Record<string, unknown>[] }).input;
  return input
    .filter((item) => item.type === 'function_call_output')
    .slice(1)
    .map((item) =>
      typeof item.output === 'string' ? item.output : JSON.stringify(item.output ?? ''),
    );
}

/** The structured answer inside Codex's rendering of a tool result. */
// biome-ignore lint/suspicious/noExplicitAny: tests index into arbitrary structured answers.
function structured(output: string): any {
  return JSON.parse(output.slice(output.indexOf('{')));
}

const [SLUG, PAGE] = DEMO_TICKETS;
const tool = (name: string, input: unknown) => namespacedToolCall('mcp__loopwright', name, input);

describe('a Codex session drives the factory through loopwright mcp', () => {
  it('files a dependent batch and hears done from the oracle', async () => {
    const first = await session([
      tool('file_tickets', {
        batch: 'bad',
        tickets: [
          { name: 'a', repo: 'demo', title: 'A', dependsOn: ['b'] },
          { name: 'b', repo: 'demo', title: 'B', dependsOn: ['a'] },
        ],
      }),
      tool('file_tickets', {
        batch: 'site',
        tickets: [
          { name: 'titles', repo: 'demo', title: PAGE.title, body: PAGE.body, dependsOn: ['slug'] },
          { name: 'slug', repo: 'demo', title: SLUG.title, body: SLUG.body },
        ],
      }),
      text('Filed.'),
    ]);
    const [refused, filed] = toolOutputs(first);
    expect(refused).toMatch(/dependency cycle: a -> b -> a/);
    await expect(getBatchByName(t.db, 'bad')).rejects.toThrow(/unknown batch/);
    expect(structured(filed!)).toMatchObject({
      batch: 'site',
      tickets: [
        { name: 'slug', key: 'demo-1' },
        { name: 'titles', key: 'demo-2', dependsOn: ['demo-1'] },
      ],
    });

    await run(process.execPath, [BIN, 'run', '--until-idle'], {
      ...env(),
      LOOPWRIGHT_LOG_LEVEL: 'warn',
    });

    const last = await session([tool('oracle', { batch: 'site' }), text('Done.')]);
    const [answer] = toolOutputs(last);
    expect(structured(answer!)).toMatchObject({ batch: 'site', done: true, missing: [] });
    for (const key of ['demo-1', 'demo-2']) {
      const journal = await readJournal(t.db, (await getTicket(t.db, key)).id);
      expect(journal[0]!.actor).toMatch(/^operator:mcp:codex[a-z0-9._-]*$/);
      expect(journal.at(-1)!.to_state).toBe('LIVE');
    }
  }, 900_000);
});
