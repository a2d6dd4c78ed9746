/**
 * The embedded cluster never trusts a connection: every line of pg_hba.conf authenticates with
 * scram-sha-256 (initdb writes it so; a cluster someone switched to `trust` is fixed at start-up,
 * data untouched). A sandboxed agent can reach 127.0.0.1, so the password is the only barrier.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** Methods that let a client in without proving it knows the password. */
const PASSWORDLESS = new Set(['trust', 'ident', 'peer']);

/**
 * Rewrite every passwordless method in `<dataDir>/pg_hba.conf` to scram-sha-256, keeping
 * comments, order, owner and mode. Returns true when the file changed (a running server must then
 * reload it). A missing file is left to Postgres to complain about.
 *
 * @example
 * if (await hardenHba(config.dataDir)) await pgCtlReload(binaries, config, user);
 */
export async function hardenHba(dataDir: string): Promise<boolean> {
  const file = path.join(dataDir, 'pg_hba.conf');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Missing: Postgres will say so. Unreadable: not our cluster to change (start-up says whose).
    if (code === 'ENOENT' || code === 'EACCES') return false;
    throw error;
  }
  const hardened = hardenHbaText(text);
  if (hardened === text) return false;
  await fs.writeFile(file, hardened); // an existing file keeps its owner and mode
  return true;
}

/**
 * The pure part of {@link hardenHba}: the auth method of each record (the field after the
 * address, or after the user for `local`) becomes scram-sha-256 when it is passwordless.
 */
export function hardenHbaText(text: string): string {
  return text
    .split('\n')
    .map((line) => hardenLine(line))
    .join('\n');
}

function hardenLine(line: string): string {
  const body = line.replace(/#.*$/, '');
  const fields = body.trim().split(/\s+/);
  if (fields.length < 4 || fields[0]?.startsWith('include')) return line;
  const methodIndex = methodIndexOf(fields);
  const method = fields[methodIndex];
  if (method === undefined || !PASSWORDLESS.has(method)) return line;
  fields[methodIndex] = 'scram-sha-256';
  // Options after a passwordless method (e.g. ident's map=) mean nothing to scram.
  return fields.slice(0, methodIndex + 1).join(' ');
}

/** local DB USER METHOD; host DB USER ADDR METHOD; host DB USER IP MASK METHOD. */
function methodIndexOf(fields: readonly string[]): number {
  if (fields[0] === 'local') return 3;
  const address = fields[3] ?? '';
  const hasMask =
    /^\d+\.\d+\.\d+\.\d+$/.test(address) && /^\d+\.\d+\.\d+\.\d+$/.test(fields[4] ?? '');
  return hasMask ? 5 : 4;
}
