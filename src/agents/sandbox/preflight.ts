/**
 * What `loopwright run` checks before it dispatches anything: that every repository which wants
 * the sandbox can have it, and whether the database would let a sandboxed agent in without a
 * password (the sandbox keeps the network, so an external trust-auth server is reachable).
 */
import pg from 'pg';
import { repoSettings } from '../../config/repo-settings.js';
import type { Repository } from '../../db/repositories.js';
import { detectSandbox } from './detect.js';
import { type SandboxStatus, SandboxUnavailableError } from './spec.js';

/**
 * Refuse to start when a registered repository uses `sandbox: bwrap` (the default) and bwrap
 * does not work here. Nothing is dispatched and nothing is journaled: the operator installs
 * bubblewrap, or sets `sandbox: none` for the repositories named.
 *
 * @throws SandboxUnavailableError naming the repositories, the reason and the fix.
 */
export async function assertSandboxReady(
  repos: readonly Pick<Repository, 'name' | 'settings'>[],
  detect: () => Promise<SandboxStatus> = detectSandbox,
): Promise<void> {
  const needing = repos.filter((repo) => sandboxModeOf(repo) === 'bwrap').map((r) => r.name);
  if (needing.length === 0) return;
  const status = await detect();
  if (status.available) return;
  throw new SandboxUnavailableError(
    `sandbox unavailable (${status.reason ?? 'unknown reason'}) for repo ${needing.join(', ')}: ` +
      `${status.fix ?? 'set "sandbox": "none" for the repo'}`,
  );
}

/** A repository's sandbox mode; unreadable settings count as `bwrap` (never a silent `none`). */
function sandboxModeOf(repo: Pick<Repository, 'name' | 'settings'>): 'bwrap' | 'none' {
  try {
    return repoSettings(repo as Repository).sandbox;
  } catch {
    return 'bwrap';
  }
}

const PROBE_TIMEOUT_MS = 3_000;

/**
 * One warning line when the database at `url` accepts a login without a password (trust auth):
 * a sandboxed agent, which keeps the network, could then connect to it. Undefined otherwise
 * (including when the server cannot be reached: the real connection will say so).
 *
 * @example
 * const warning = await passwordlessDatabaseWarning(process.env.DATABASE_URL);
 * if (warning) io.stderr(`loopwright: ${warning}\n`);
 */
export async function passwordlessDatabaseWarning(url: string): Promise<string | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const user = decodeURIComponent(parsed.username) || 'postgres';
  const host = decodeURIComponent(parsed.hostname) || 'localhost';
  const port = Number(parsed.port || 5432);
  const database = decodeURIComponent(parsed.pathname.slice(1)) || user;
  // An empty (not absent) password: node-postgres then consults neither PGPASSWORD nor ~/.pgpass.
  const client = new pg.Client({
    host,
    port,
    user,
    database,
    password: '',
    ssl: false,
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
  return (
    `warning: the database at ${host}:${port} lets "${user}" in without a password; sandboxed ` +
    'agents keep the network and could reach it (require scram-sha-256 in its pg_hba.conf)'
  );
}
