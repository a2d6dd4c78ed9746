/**
 * `loopwright mcp install --client claude|codex`: add (or replace) the `loopwright` server in the
 * client's configuration, exactly where the client's own `mcp add` puts it, or print the snippet.
 *
 * - claude, scope user (default): `$CLAUDE_CONFIG_DIR/.claude.json` or `~/.claude.json`,
 *   key `mcpServers`; scope project: `.mcp.json` in the working directory.
 * - codex: `$CODEX_HOME/config.toml` or `~/.codex/config.toml`, table `[mcp_servers.loopwright]`.
 *
 * Files are rewritten atomically (temp file + rename) keeping their mode; a file that does not
 * parse is refused and left alone.
 */
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { BadInputError } from '../errors.js';
import { codexSnippet, setCodexServer } from './codex-config.js';
import { claudeEntry, codexEntry, launchSpec } from './launch.js';

export const SERVER_NAME = 'loopwright';

export type Client = 'claude' | 'codex';
export type Scope = 'user' | 'project';

export interface InstallRequest {
  readonly client: Client;
  readonly scope: Scope;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface InstallResult {
  readonly client: Client;
  readonly file: string;
  readonly replaced: boolean;
}

/** The snippet `--print` shows: JSON for `--mcp-config` / `.mcp.json`, or TOML for Codex. */
export function printSnippet(client: Client, env: NodeJS.ProcessEnv): string {
  const spec = launchSpec(env);
  if (client === 'claude')
    return `${JSON.stringify({ mcpServers: { [SERVER_NAME]: claudeEntry(spec) } }, null, 2)}\n`;
  return codexSnippet(SERVER_NAME, codexEntry(spec));
}

/** Where the client keeps the configuration this installer edits. */
export function configFile(req: Omit<InstallRequest, 'client'> & { client: Client }): string {
  const home = req.env.HOME?.trim() || homedir();
  if (req.client === 'codex') {
    if (req.scope === 'project')
      throw new BadInputError('codex has no project scope; use --scope user');
    const codexHome = req.env.CODEX_HOME?.trim() || path.join(home, '.codex');
    return path.join(codexHome, 'config.toml');
  }
  if (req.scope === 'project') return path.join(req.cwd, '.mcp.json');
  const dir = req.env.CLAUDE_CONFIG_DIR?.trim();
  return dir ? path.join(dir, '.claude.json') : path.join(home, '.claude.json');
}

/** Add or replace the server entry in the client's configuration file. */
export async function install(req: InstallRequest): Promise<InstallResult> {
  const spec = launchSpec(req.env);
  const file = configFile(req);
  const original = await readIfExists(file);
  let next: string;
  let replaced: boolean;
  if (req.client === 'codex') {
    replaced = original !== null && /^\s*\[mcp_servers\.("?)loopwright\1\]/m.test(original);
    next = setCodexServer(original ?? '', SERVER_NAME, codexEntry(spec), file);
  } else {
    const doc = parseJsonObject(original, file);
    const servers = (doc.mcpServers ?? {}) as Record<string, unknown>;
    if (typeof servers !== 'object' || Array.isArray(servers))
      throw new BadInputError(`${file}: mcpServers is not an object; not changed`);
    replaced = SERVER_NAME in servers;
    doc.mcpServers = { ...servers, [SERVER_NAME]: claudeEntry(spec) };
    next = `${JSON.stringify(doc, null, 2)}\n`;
  }
  await writeAtomically(file, next);
  return { client: req.client, file, replaced };
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new BadInputError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`);
  }
}

function parseJsonObject(text: string | null, file: string): Record<string, unknown> {
  if (text === null || text.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BadInputError(`${file} is not valid JSON; not changed`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new BadInputError(`${file} does not hold a JSON object; not changed`);
  return doc as Record<string, unknown>;
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const mode = await stat(file).then(
    (s) => s.mode & 0o777,
    () => 0o600,
  );
  const temp = `${file}.loopwright-${process.pid}.tmp`;
  await writeFile(temp, text, { mode });
  await chmod(temp, mode);
  await rename(temp, file);
}
