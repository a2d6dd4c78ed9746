/**
 * Editing Codex's `config.toml` without disturbing the rest of it: the `[mcp_servers.<name>]`
 * table (and its sub-tables) is cut out line by line and the new one appended, then the result is
 * parsed and compared with the original — every other key must be unchanged and the entry must be
 * exactly what was meant — before anything is written. A file that does not parse, or defines the
 * entry in a form this cannot cut out (inline table, dotted keys), is refused and left as it is.
 */
import { parse, stringify } from 'smol-toml';
import { BadInputError } from '../errors.js';

type Table = Record<string, unknown>;

/** The new text of `config.toml` with `[mcp_servers.<name>]` set to `entry`. */
export function setCodexServer(original: string, name: string, entry: Table, file: string): string {
  const before = parseToml(original, file);
  const kept = removeSections(original, name);
  const keptDoc = parseToml(kept, file);
  if (serverOf(keptDoc, name) !== undefined)
    throw new BadInputError(
      `${file} defines mcp_servers.${name} inline or with dotted keys; remove it by hand or ` +
        `paste the --print snippet`,
    );
  const snippet = stringify({ mcp_servers: { [name]: entry } });
  const trimmed = kept.replace(/\s*$/, '');
  const next = `${trimmed}${trimmed ? '\n\n' : ''}${snippet.trimEnd()}\n`;
  const after = parseToml(next, file);
  if (!same(serverOf(after, name), entry) || !sameOtherwise(before, after, name))
    throw new BadInputError(
      `${file}: cannot add mcp_servers.${name} without changing other settings; paste the ` +
        `--print snippet by hand`,
    );
  return next;
}

/** The `[mcp_servers.<name>]` snippet on its own. */
export function codexSnippet(name: string, entry: Table): string {
  return stringify({ mcp_servers: { [name]: entry } });
}

function parseToml(text: string, file: string): Table {
  try {
    return parse(text) as Table;
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new BadInputError(`${file} is not valid TOML (${first}); not changed`);
  }
}

function serverOf(doc: Table, name: string): unknown {
  const servers = doc.mcp_servers;
  return servers && typeof servers === 'object' ? (servers as Table)[name] : undefined;
}

function sameOtherwise(a: Table, b: Table, name: string): boolean {
  const strip = (doc: Table): Table => {
    const servers = { ...((doc.mcp_servers as Table | undefined) ?? {}) };
    delete servers[name];
    const copy = { ...doc };
    if (Object.keys(servers).length > 0) copy.mcp_servers = servers;
    else delete copy.mcp_servers;
    return copy;
  };
  return same(strip(a), strip(b));
}

/** Equal as data (parsed tables have no prototype; key order is irrelevant). */
function same(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value).sort();
    const pairs = entries.map((k) => `${JSON.stringify(k)}:${canonical((value as Table)[k])}`);
    return `{${pairs.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

const HEADER = /^\s*\[(\[?)([^\]#]*)\]\]?\s*(?:#.*)?$/;

/** The text without the `[mcp_servers.<name>]` table and its sub-tables. */
function removeSections(text: string, name: string): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of text.split('\n')) {
    const header = HEADER.exec(line);
    if (header) {
      const keys = splitKey(header[2]!);
      skipping = keys !== null && keys[0] === 'mcp_servers' && keys[1] === name;
    }
    if (!skipping) out.push(line);
  }
  return out.join('\n');
}

/** `a."b.c".'d'` -> ['a', 'b.c', 'd']; null when it is not a plain dotted key. */
function splitKey(raw: string): string[] | null {
  const keys: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/y;
  let at = 0;
  while (at < raw.length) {
    re.lastIndex = at;
    const m = re.exec(raw);
    if (!m) return null;
    keys.push(m[1] !== undefined ? JSON.parse(`"${m[1]}"`) : (m[2] ?? m[3]!));
    at = re.lastIndex;
    if (m[4] === '') break;
  }
  return keys;
}
