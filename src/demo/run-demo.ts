/**
 * `loopwright demo`: a sample Node project under LOOPWRIGHT_HOME, registered with scripted agents,
 * three tickets filed (one plain, one depending on it with a plan revision, one whose first build
 * the validator rejects), the factory run until idle, and a summary of what happened.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import { readJournal } from '../db/journal.js';
import { insertRepository, listRepositories } from '../db/repositories.js';
import { listRuns } from '../db/runs.js';
import { getTicket } from '../db/tickets.js';
import { createTicket } from '../engine/create-ticket.js';
import { detectSandbox, type SandboxMode } from '../agents/sandbox/index.js';
import type { JournalMove } from '../db/run-summary.js';
import { startFactory } from '../worker/factory.js';
import { followProgress, progressStart } from '../worker/progress.js';
import { createDemoRepo, DEMO_TICKETS, demoScript } from './playbook.js';

export interface DemoTicket {
  readonly key: string;
  readonly title: string;
  readonly state: string;
  readonly path: readonly string[];
  readonly agentRuns: number;
  readonly mergeCommit: string | null;
}

export interface DemoResult {
  readonly repo: string;
  readonly repoPath: string;
  /** `none` when bubblewrap does not work here (the scripted agents are loopwright's own code). */
  readonly sandbox: SandboxMode;
  /** Why the sandbox is off, when it is. */
  readonly sandboxNote: string | null;
  readonly tickets: readonly DemoTicket[];
  readonly seconds: number;
}

export interface DemoOptions {
  /** Called for each journal row while the demo runs (progress). */
  readonly onMove?: (move: JournalMove) => void;
}

export async function runDemo(
  handle: Db,
  home: string,
  logger: Logger,
  actor: string,
  options: DemoOptions = {},
): Promise<DemoResult> {
  const started = Date.now();
  const probe = await detectSandbox();
  const sandbox: SandboxMode = probe.available ? 'bwrap' : 'none';
  const name = await freeRepoName(handle);
  const root = path.join(home, 'demo');
  const repoPath = path.join(root, name);
  await createDemoRepo(repoPath);
  const script = path.join(root, `${name}.script.json`);
  await writeFile(script, `${JSON.stringify(demoScript(), null, 2)}\n`);
  const scripted = { provider: 'scripted' };
  await insertRepository(handle.db, {
    name,
    path: repoPath,
    base_branch: 'main',
    test_cmd: 'node --test',
    live_cmd: 'node scripts/live-check.mjs',
    concurrency: 2,
    settings: JSON.stringify({
      agents: { lead: scripted, generator: scripted, validator: scripted },
      script,
      agentTimeoutSeconds: 120,
      gateTimeoutSeconds: 120,
      sandbox,
    }),
  });
  const from = await progressStart(handle.db);
  const stopProgress = options.onMove ? followProgress(handle.db, options.onMove, from) : null;
  const keys: string[] = [];
  for (const t of DEMO_TICKETS) {
    const dependsOn = 'dependsOnFirst' in t ? [keys[0]!] : [];
    keys.push(
      (
        await createTicket(handle.db, {
          repo: name,
          title: t.title,
          body: t.body,
          dependsOn,
          actor,
        })
      ).key,
    );
  }
  const factory = await startFactory({
    handle,
    home,
    concurrency: 2,
    untilIdle: true,
    logger,
    heartbeatMs: 2000,
  });
  await factory.done;
  await stopProgress?.();
  return {
    repo: name,
    repoPath,
    sandbox,
    sandboxNote: probe.available ? null : (probe.reason ?? 'bubblewrap does not work here'),
    tickets: await Promise.all(keys.map((k) => summarize(handle, k))),
    seconds: (Date.now() - started) / 1000,
  };
}

async function freeRepoName(handle: Db): Promise<string> {
  const taken = new Set((await listRepositories(handle.db)).map((r) => r.name));
  for (let n = 1; ; n++) {
    const name = n === 1 ? 'demo' : `demo${n}`;
    if (!taken.has(name)) return name;
  }
}

async function summarize(handle: Db, key: string): Promise<DemoTicket> {
  const ticket = await getTicket(handle.db, key);
  const journal = await readJournal(handle.db, ticket.id);
  const states = journal.map((r) => {
    const sub = r.snapshot.value as Record<string, string> | string;
    return typeof sub === 'string' ? sub : `${r.to_state}.${Object.values(sub)[0]}`;
  });
  const path = states.filter((s, i) => s !== states[i - 1]);
  const runs = await listRuns(handle.db, ticket.id);
  return {
    key,
    title: ticket.title,
    state: ticket.state,
    path,
    agentRuns: runs.length,
    mergeCommit: (ticket.snapshot.context as { mergeCommit?: string | null }).mergeCommit ?? null,
  };
}
