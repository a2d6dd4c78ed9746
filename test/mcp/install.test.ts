/**
 * `loopwright mcp install`: the entry lands where the clients' own `mcp add` puts it, the rest of
 * the file is kept, and the real clients read it back — `claude mcp get` even starts the server
 * and reports it connected; `codex mcp get --json` shows the same command and environment.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { runClosedStdin } from '../helpers/mcp-session.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/loopwright.js');
const CLAUDE = path.join(ROOT, 'node_modules/.bin/claude');
const CODEX = path.join(ROOT, 'node_modules/.bin/codex');

let t: TestDb;
let root: string;

beforeAll(async () => {
  t = await createTestDb(2);
  root = mkdtempSync(path.join(tmpdir(), 'lw-mcp-install-'));
});

afterAll(async () => {
  await t?.drop();
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
/** A fresh user: its own HOME, the factory home, and the database variable set. */
function user(extra: NodeJS.ProcessEnv = {}) {
  const dir = path.join(root, `u${++counter}`);
  const home = path.join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    LOOPWRIGHT_HOME: path.join(dir, 'factory'),
    LOOPWRIGHT_DATABASE_URL: t.url,
    ...extra,
  };
  return { dir, home, env };
}

async function cli(argv: string[], env: NodeJS.ProcessEnv, cwd = root) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    env,
    cwd,
  });
  return { code, stdout, stderr };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = root) {
  return runClosedStdin(command, args, { env, cwd, timeoutMs: 60_000 });
}

describe('loopwright mcp install --client claude', () => {
  it('adds the server to the user config, keeping the rest, and ' +
    'claude connects to it', async () => {
    const u = user();
    const file = path.join(u.home, '.claude.json');
    writeFileSync(
      file,
      JSON.stringify({ theme: 'dark', mcpServers: { other: { command: 'x' } } }),
      {
        mode: 0o600,
      },
    );
    const added = await cli(['mcp', 'install', '--client', 'claude'], u.env);
    expect(added).toEqual({
      code: 0,
      stdout: `added MCP server loopwright in ${file}\n`,
      stderr: '',
    });
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(doc.theme).toBe('dark');
    expect(doc.mcpServers.other).toEqual({ command: 'x' });
    expect(doc.mcpServers.loopwright).toEqual({
      type: 'stdio',
      command: process.execPath,
      args: [BIN, 'mcp'],
      env: {
        LOOPWRIGHT_HOME: `\${LOOPWRIGHT_HOME:-${u.env.LOOPWRIGHT_HOME}}`,
        LOOPWRIGHT_DATABASE_URL: '${LOOPWRIGHT_DATABASE_URL}',
      },
    });
    // The database URL is referenced, never copied.
    expect(readFileSync(file, 'utf8')).not.toContain(t.url);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const again = await cli(['mcp', 'install', '--client', 'claude'], u.env);
    expect(again.stdout).toBe(`updated MCP server loopwright in ${file}\n`);

    const got = await run(CLAUDE, ['mcp', 'get', 'loopwright'], u.env);
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/Status: ✔ Connected/);
    expect(got.stdout).toMatch(/Scope: User config/);
  }, 90_000);

  it('--scope project writes .mcp.json in the working directory', async () => {
    const u = user();
    const project = path.join(u.dir, 'project');
    mkdirSync(project);
    const result = await cli(
      ['mcp', 'install', '--client', 'claude', '--scope', 'project'],
      u.env,
      project,
    );
    expect(result.code).toBe(0);
    const doc = JSON.parse(readFileSync(path.join(project, '.mcp.json'), 'utf8'));
    expect(doc.mcpServers.loopwright.args).toEqual([BIN, 'mcp']);
  });

  it('CLAUDE_CONFIG_DIR moves the user config, as it does for claude', async () => {
    const u = user();
    const dir = path.join(u.dir, 'claude-config');
    const result = await cli(['mcp', 'install', '--client', 'claude', '--json'], {
      ...u.env,
      CLAUDE_CONFIG_DIR: dir,
    });
    expect(JSON.parse(result.stdout)).toEqual({
      schemaVersion: 1,
      client: 'claude',
      file: path.join(dir, '.claude.json'),
      replaced: false,
    });
  });

  it('refuses a config file that is not JSON and leaves it alone', async () => {
    const u = user();
    const file = path.join(u.home, '.claude.json');
    writeFileSync(file, '{ not json');
    const result = await cli(['mcp', 'install', '--client', 'claude'], u.env);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: `loopwright: ${file} is not valid JSON; not changed\n`,
    });
    expect(readFileSync(file, 'utf8')).toBe('{ not json');
  });

  it('--print without a database variable references only the home', async () => {
    const u = user({ LOOPWRIGHT_DATABASE_URL: undefined });
    const printed = await cli(['mcp', 'install', '--client', 'claude', '--print'], u.env);
    expect(JSON.parse(printed.stdout).mcpServers.loopwright.env).toEqual({
      LOOPWRIGHT_HOME: `\${LOOPWRIGHT_HOME:-${u.env.LOOPWRIGHT_HOME}}`,
    });
  });

  it.each([
    [['mcp', 'install'], /needs --client claude or --client codex/],
    [['mcp', 'install', '--client', 'cursor'], /needs --client claude or --client codex/],
    [
      ['mcp', 'install', '--client', 'claude', '--scope', 'local'],
      /--scope must be user or project/,
    ],
    [['mcp', 'install', '--client', 'codex', '--scope', 'project'], /codex has no project scope/],
    [['mcp', 'install', '--client', 'claude', '--print', '--scope', 'user'], /--print prints/],
    [['mcp', 'extra'], /unexpected argument/],
  ])('%j is bad input', async (argv, message) => {
    const u = user();
    const result = await cli(argv, u.env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });
});

describe('loopwright mcp install --client codex', () => {
  it('adds [mcp_servers.loopwright] to config.toml, keeping the rest, ' +
    'and codex reads it', async () => {
    const u = user();
    const codexHome = path.join(u.dir, 'codex');
    mkdirSync(codexHome);
    const file = path.join(codexHome, 'config.toml');
    const original = '# mine\nmodel = "o3"\n\n[mcp_servers.other]\ncommand = "other"\n';
    writeFileSync(file, original);
    const env = { ...u.env, CODEX_HOME: codexHome };
    const result = await cli(['mcp', 'install', '--client', 'codex'], env);
    expect(result).toEqual({
      code: 0,
      stdout: `added MCP server loopwright in ${file}\n`,
      stderr: '',
    });
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith(original)).toBe(true);
    expect(text).not.toContain(t.url);
    expect(parse(text)).toEqual({
      model: 'o3',
      mcp_servers: {
        other: { command: 'other' },
        loopwright: {
          command: process.execPath,
          args: [BIN, 'mcp'],
          env: { LOOPWRIGHT_HOME: u.env.LOOPWRIGHT_HOME },
          env_vars: ['LOOPWRIGHT_DATABASE_URL'],
        },
      },
    });
    expect((await cli(['mcp', 'install', '--client', 'codex'], env)).stdout).toMatch(/^updated /);
    expect(readFileSync(file, 'utf8')).toBe(text);

    const got = await run(CODEX, ['mcp', 'get', 'loopwright', '--json'], env);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout).transport).toMatchObject({
      type: 'stdio',
      command: process.execPath,
      args: [BIN, 'mcp'],
      env_vars: ['LOOPWRIGHT_DATABASE_URL'],
    });
  }, 60_000);

  it('--print is the same table, pasteable on its own', async () => {
    const u = user({ LOOPWRIGHT_DATABASE_URL: undefined, DATABASE_URL: t.url });
    const printed = await run(
      process.execPath,
      [BIN, 'mcp', 'install', '--client', 'codex', '--print'],
      u.env,
    );
    expect(printed.code).toBe(0);
    expect(parse(printed.stdout)).toEqual({
      mcp_servers: {
        loopwright: {
          command: process.execPath,
          args: [BIN, 'mcp'],
          env: { LOOPWRIGHT_HOME: u.env.LOOPWRIGHT_HOME },
          env_vars: ['DATABASE_URL'],
        },
      },
    });
  });
});
