/**
 * The MCP server's pure parts: the actor from clientInfo, redaction, the Codex config editor, the
 * transcript tail, and the filing order of a planned batch.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { fileOrder } from '../../src/engine/file-batch.js';
import { mcpActor } from '../../src/mcp/actor.js';
import { setCodexServer } from '../../src/mcp/codex-config.js';
import { redact, secretValues } from '../../src/mcp/redact.js';
import { readTranscriptTail } from '../../src/mcp/transcript.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('mcpActor', () => {
  it.each([
    ['claude-code', 'operator:mcp:claude-code'],
    ['Codex MCP Client', 'operator:mcp:codex-mcp-client'],
    ['x worker:pool-1\n', 'operator:mcp:x-worker-pool-1'],
    ['../../etc', 'operator:mcp:etc'],
    ['', 'operator:mcp:unknown'],
    [undefined, 'operator:mcp:unknown'],
    ['\u0000\u202e', 'operator:mcp:unknown'],
    ['a'.repeat(200), `operator:mcp:${'a'.repeat(40)}`],
  ])('%j -> %s', (name, actor) => {
    expect(mcpActor(name)).toBe(actor);
  });
});

describe('redact', () => {
  it('removes connection URLs and the values of secret-looking variables', () => {
    const secrets = secretValues({
      ANTHROPIC_API_KEY: 'sk-ant-123456',
      GITHUB_TOKEN: 'ghp_abcdef',
      HOME: '/root',
      SHORT_KEY: 'abc',
    });
    expect(secrets.sort()).toEqual(['ghp_abcdef', 'sk-ant-123456']);
    expect(
      redact(
        'key sk-ant-123456 url postgres://u:p@h:5/db and https://user:pw@example.com/x ok',
        secrets,
      ),
    ).toBe('key [redacted] url [redacted] and [redacted] ok');
    expect(redact('postgresql://localhost/db', [])).toBe('[redacted]');
  });
});

describe('setCodexServer', () => {
  const entry = {
    command: '/usr/bin/node',
    args: ['/opt/lw/bin/loopwright.js', 'mcp'],
    env: { LOOPWRIGHT_HOME: '/h' },
  };

  it('appends the table to an empty file', () => {
    const text = setCodexServer('', 'loopwright', entry, 'config.toml');
    expect(parse(text)).toEqual({ mcp_servers: { loopwright: entry } });
  });

  it('replaces an earlier entry and its sub-tables, keeping the rest and its comments', () => {
    const original = [
      '# my settings',
      'model = "o3"',
      '',
      '[mcp_servers.loopwright]',
      'command = "old"',
      '',
      '[mcp_servers.loopwright.env]',
      'OLD = "1"',
      '',
      '[mcp_servers.other]',
      'command = "other" # keep me',
      '',
      "[profiles.'fast']",
      'model = "o4-mini"',
      '',
    ].join('\n');
    const text = setCodexServer(original, 'loopwright', entry, 'config.toml');
    expect(text).toContain('# my settings');
    expect(text).toContain('command = "other" # keep me');
    expect(text).not.toContain('OLD');
    expect(parse(text)).toEqual({
      model: 'o3',
      mcp_servers: { other: { command: 'other' }, loopwright: entry },
      profiles: { fast: { model: 'o4-mini' } },
    });
  });

  it('handles a quoted table name', () => {
    const text = setCodexServer(
      '[mcp_servers."loopwright"]\ncommand = "old"\n',
      'loopwright',
      entry,
      'c',
    );
    expect(parse(text)).toEqual({ mcp_servers: { loopwright: entry } });
  });

  it('refuses a file that does not parse, and an inline entry it cannot cut out', () => {
    expect(() => setCodexServer('model = \n', 'loopwright', entry, 'c.toml')).toThrow(
      /c\.toml is not valid TOML .*not changed/,
    );
    expect(() =>
      setCodexServer('[mcp_servers]\nloopwright = { command = "x" }\n', 'loopwright', entry, 'c'),
    ).toThrow(/inline or with dotted keys/);
  });

  it('refuses when a multi-line string hides a header-looking line', () => {
    const tricky = 'notes = """\n[mcp_servers.loopwright]\n"""\n';
    expect(() => setCodexServer(tricky, 'loopwright', entry, 'c')).toThrow(/c/);
  });
});

describe('readTranscriptTail', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'lw-tail-'));
  dirs.push(home);
  mkdirSync(path.join(home, 'runs', 'app-1'), { recursive: true });
  const file = path.join(home, 'runs', 'app-1', 'r1.jsonl');
  writeFileSync(file, Array.from({ length: 100 }, (_, i) => `{"line":${i}}`).join('\n') + '\n');

  it('returns the last whole lines within the cap, relative to the home', async () => {
    const tail = await readTranscriptTail(file, home, 100);
    expect(tail.path).toBe('runs/app-1/r1.jsonl');
    expect(tail.truncated).toBe(true);
    expect(tail.lines.at(-1)).toBe('{"line":99}');
    expect(tail.lines.every((l) => /^\{"line":\d+\}$/.test(l))).toBe(true);
    expect(tail.lines.join('\n').length).toBeLessThanOrEqual(100);
  });

  it('refuses a transcript that resolves outside the home', async () => {
    const outside = mkdtempSync(path.join(tmpdir(), 'lw-outside-'));
    dirs.push(outside);
    writeFileSync(path.join(outside, 'secret.txt'), 'secret');
    const link = path.join(home, 'runs', 'app-1', 'evil.jsonl');
    symlinkSync(path.join(outside, 'secret.txt'), link);
    await expect(readTranscriptTail(link, home, 1000)).rejects.toThrow(
      /outside the factory's home/,
    );
    await expect(readTranscriptTail(path.join(outside, 'secret.txt'), home, 1000)).rejects.toThrow(
      /outside/,
    );
  });

  it('a run without a transcript file yet has no lines', async () => {
    expect(
      await readTranscriptTail(path.join(home, 'runs', 'app-1', 'none.jsonl'), home, 100),
    ).toEqual({
      path: 'runs/app-1/none.jsonl',
      sizeBytes: 0,
      truncated: false,
      lines: [],
    });
  });
});

describe('fileOrder', () => {
  const t = (name: string, dependsOn: string[] = []) => ({
    name,
    repo: 'app',
    title: name,
    dependsOn,
  });

  it('orders every ticket after its dependencies', () => {
    const order = fileOrder([t('c', ['b']), t('a'), t('b', ['a']), t('d', ['a', 'c'])]);
    expect(order.map((x) => x.name)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('names the cycle', () => {
    expect(() => fileOrder([t('a', ['b']), t('b', ['c']), t('c', ['a'])])).toThrow(
      'dependency cycle: a -> b -> c -> a',
    );
  });
});

describe('the operator skill', () => {
  const file = path.join(import.meta.dirname, '../../skills/operator/SKILL.md');
  const text = readFileSync(file, 'utf8');

  it('has Claude Code skill frontmatter: a name and a description', () => {
    const match = /^---\n([\s\S]*?)\n---\n/.exec(text);
    expect(match).not.toBeNull();
    const fields = Object.fromEntries(
      match![1]!.split('\n').map((line) => {
        const at = line.indexOf(':');
        return [line.slice(0, at).trim(), line.slice(at + 1).trim()];
      }),
    );
    expect(Object.keys(fields).sort()).toEqual(['description', 'name']);
    expect(fields.name).toMatch(/^[a-z0-9-]{1,64}$/);
    expect(fields.description!.length).toBeGreaterThan(50);
    expect(fields.description!.length).toBeLessThanOrEqual(1024);
  });

  it('names every tool the server has, and ships with the package', async () => {
    const { TOOLS } = await import('../../src/mcp/server.js');
    for (const tool of TOOLS) expect(text).toContain(`\`${tool.name}\``);
    const manifest = JSON.parse(
      readFileSync(path.join(import.meta.dirname, '../../package.json'), 'utf8'),
    );
    expect(manifest.files).toContain('skills');
  });
});
