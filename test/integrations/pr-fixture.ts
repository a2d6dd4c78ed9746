/**
 * A repository that ships through the GitHub twin, and tickets parked where a PR waits for review
 * (SHIP.awaiting_review) without running the loop: the ticket is driven through the machine's
 * events, its branch gets a real commit that is pushed to the twin's bare remote, and the PR is
 * opened on the twin, as publish_pr would have done. Jobs the hand-driven events queued are
 * removed (the work they stand for was done by hand), so whatever runs afterwards is the
 * system's own.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Kdb } from '../../src/db/connection.js';
import { upsertLink } from '../../src/db/integrations.js';
import { insertRepository, type Repository } from '../../src/db/repositories.js';
import { getTicket } from '../../src/db/tickets.js';
import { driveTo, gitIdentityEnv, newTicket, sendResult } from '../helpers/fixtures.js';
import { startGithubTwin, type GithubTwin } from '../twins/github-twin.js';

export interface ShipRepo {
  readonly repo: Repository;
  readonly twin: GithubTwin;
  readonly path: string;
  readonly bare: string;
  readonly token: string;
}

const git = (cwd: string, args: string[]) =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: gitIdentityEnv(),
  }).trim();

/** A git repository with one commit on main, its bare remote, the twin and the repo row. */
export async function shipRepo(
  db: Kdb,
  root: string,
  name: string,
  o: {
    token: string;
    events: 'webhook' | 'poll';
    pollSeconds?: number;
    mode?: 'dark' | 'copilot';
  },
): Promise<ShipRepo> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  git(dir, ['init', '-q', '-b', 'main']);
  await writeFile(path.join(dir, 'README.md'), `# ${name}\n`);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', 'Initial commit']);
  const bare = path.join(root, 'remote', 'acme', `${name}.git`);
  await mkdir(path.dirname(bare), { recursive: true });
  git(root, ['clone', '-q', '--bare', dir, bare]);
  const twin = await startGithubTwin({ token: o.token, owner: 'acme', repo: name, bareRepo: bare });
  const repo = await insertRepository(db, {
    name,
    path: dir,
    base_branch: 'main',
    mode: o.mode ?? 'dark',
    settings: JSON.stringify({
      sandbox: 'none',
      github: {
        repository: `acme/${name}`,
        apiUrl: twin.url,
        remoteUrl: twin.gitUrl,
        events: o.events,
        ...(o.pollSeconds ? { pollSeconds: o.pollSeconds } : {}),
      },
    }),
  });
  return { repo, twin, path: dir, bare, token: o.token };
}

export interface WaitingTicket {
  readonly key: string;
  readonly id: string;
  readonly number: number;
  readonly sha: string;
}

/** A ticket of `r` in SHIP.awaiting_review on a PR of its own branch (one commit of `file`). */
export async function waitingTicket(db: Kdb, r: ShipRepo, file: string): Promise<WaitingTicket> {
  const key = await newTicket(db, r.repo, `change ${file}`);
  await driveTo(db, key, 'SHIP');
  const branch = `loopwright/${key}`;
  git(r.path, ['checkout', '-q', '-B', branch, 'main']);
  await writeFile(path.join(r.path, file), `${file}\n`);
  git(r.path, ['add', '-A']);
  git(r.path, ['commit', '-q', '-m', `change ${file}`]);
  const sha = git(r.path, ['rev-parse', 'HEAD']);
  git(r.path, ['checkout', '-q', 'main']);
  git(r.path, ['push', '-q', r.bare, `${branch}:refs/heads/${branch}`]);
  const res = await fetch(`${r.twin.url}/repos/acme/${r.repo.name}/pulls`, {
    method: 'POST',
    headers: { authorization: `token ${r.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ head: branch, base: 'main', title: key, body: 'by the fixture' }),
  });
  if (res.status !== 201) throw new Error(`twin refused the PR: ${res.status}`);
  const pr = (await res.json()) as { number: number; html_url: string };
  const ticket = await getTicket(db, key);
  await upsertLink(db, {
    ticketId: ticket.id,
    system: 'github',
    externalId: `acme/${r.repo.name}#${pr.number}`,
    externalKey: String(pr.number),
    url: pr.html_url,
    data: { head: branch, sha },
  });
  const opened = await sendResult(db, key, {
    type: 'PR_OPENED',
    number: pr.number,
    url: pr.html_url,
  });
  if (opened.status !== 'applied') throw new Error(`PR_OPENED: ${JSON.stringify(opened)}`);
  await removeJobsOf(db, ticket.id);
  return { key, id: ticket.id, number: pr.number, sha };
}

/** Queued jobs of one ticket (graphile-worker keys are `lw:<ticket id>:...`). */
export async function jobsOf(db: Kdb, ticketId: string): Promise<string[]> {
  const { rows } = await sql<{ key: string }>`
    select key from graphile_worker._private_jobs where key like ${`lw:${ticketId}:%`}`.execute(db);
  return rows.map((r) => r.key);
}

async function removeJobsOf(db: Kdb, ticketId: string): Promise<void> {
  await sql`select graphile_worker.remove_job(key) from graphile_worker._private_jobs
    where key like ${`lw:${ticketId}:%`}`.execute(db);
}

/** Pids of live processes whose environment names this ticket (every agent run's does). */
export async function processesOfTicket(key: string): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const env = await readFile(`/proc/${entry}/environ`).catch(() => null);
    if (env?.includes(Buffer.from(`LOOPWRIGHT_TICKET=${key}\0`))) pids.push(Number(entry));
  }
  return pids;
}
