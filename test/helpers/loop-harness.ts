/**
 * The whole agent loop for one test: its own database, a temp LOOPWRIGHT_HOME, a real sample git
 * repository registered with scripted agents, tickets filed through the engine, and the real
 * factory (graphile-worker, pool heartbeat, sweeper, scheduler) run until no ticket can move.
 * Everything is torn down by `close()`: factory stopped, worktrees and temp dirs removed, database
 * dropped.
 */
import { afterEach } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { TicketContext, TicketLimits } from '../../machines/ticket.js';
import type { Script } from '../../src/agents/scripted/script.js';
import { listArtifacts, getArtifact, type Artifact } from '../../src/db/artifacts.js';
import {
  readJournal,
  readRejected,
  type JournalRow,
  type RejectedRow,
} from '../../src/db/journal.js';
import { insertRepository, type Repository } from '../../src/db/repositories.js';
import { listRuns, type AgentRun } from '../../src/db/runs.js';
import type { ArtifactKind } from '../../src/db/schema.js';
import { getTicket, type Ticket } from '../../src/db/tickets.js';
import { createTicket } from '../../src/engine/create-ticket.js';
import { createDemoRepo } from '../../src/demo/playbook.js';
import { startFactory, type Factory } from '../../src/worker/factory.js';
import { git } from '../../src/workspace/index.js';
import { createTestDb, type TestDb } from './db.js';

export interface LoopHarnessOptions {
  readonly script: Script;
  readonly agentTimeoutSeconds?: number;
  readonly gateTimeoutSeconds?: number;
  readonly limits?: Partial<TicketLimits>;
  /** Default: the demo's runner, which runs every `scripts/live/*.mjs` a ticket ships. */
  readonly liveCmd?: string;
  readonly concurrency?: number;
  /** Agents per role replacing the scripted default (e.g. a `command` agent for one role). */
  readonly agents?: Partial<Record<'lead' | 'generator' | 'validator', Record<string, unknown>>>;
  /** The repo's sandbox setting (default `none`: these tests pin the unsandboxed behaviour). */
  readonly sandbox?: 'bwrap' | 'none';
}

/** A ticket after the run, with everything a test asserts on. */
export interface TicketOutcome {
  readonly ticket: Ticket;
  readonly state: string;
  readonly context: TicketContext;
  readonly journal: readonly JournalRow[];
  readonly rejected: readonly RejectedRow[];
  readonly runs: readonly AgentRun[];
  /** Journal rows of one event type. */
  events(type: string): JournalRow[];
  /** Artifacts of one kind, content included, oldest first. */
  artifacts(kind: ArtifactKind): Promise<Artifact[]>;
}

export interface LoopHarness {
  readonly db: TestDb;
  readonly root: string;
  readonly home: string;
  readonly repo: Repository;
  readonly repoPath: string;
  readonly scriptPath: string;
  /** File a ticket; returns its key. */
  file(title: string, body?: string): Promise<string>;
  /** Run the factory until idle (or fail after `timeoutMs`); `during` runs alongside it. */
  run(options?: {
    timeoutMs?: number;
    during?: (factory: Factory) => Promise<void>;
  }): Promise<void>;
  outcome(key: string): Promise<TicketOutcome>;
  /** The base branch's tip. */
  mainTip(): Promise<string>;
  close(): Promise<void>;
}

const SILENT = pino({ level: 'silent' });
let repoCounter = 0;

export async function createLoopHarness(o: LoopHarnessOptions): Promise<LoopHarness> {
  const db = await createTestDb(8);
  const root = await mkdtemp(path.join(os.tmpdir(), 'lw-loop-'));
  const home = path.join(root, 'home');
  const repoPath = path.join(root, 'repo');
  const scriptPath = path.join(root, 'script.json');
  let factory: Factory | null = null;
  try {
    await mkdir(home, { recursive: true });
    await createDemoRepo(repoPath);
    await writeFile(scriptPath, `${JSON.stringify(o.script, null, 2)}\n`);
    const scripted = { provider: 'scripted' };
    const repo = await insertRepository(db.db, {
      name: `loop${++repoCounter}`,
      path: repoPath,
      base_branch: 'main',
      test_cmd: 'node --test',
      live_cmd: o.liveCmd ?? 'node scripts/live-check.mjs',
      concurrency: o.concurrency ?? 2,
      settings: JSON.stringify({
        agents: { lead: scripted, generator: scripted, validator: scripted, ...o.agents },
        // Loop tests pin mode-none behaviour unless they ask for the sandbox (test/adversarial
        // does).
        sandbox: o.sandbox ?? 'none',
        script: scriptPath,
        agentTimeoutSeconds: o.agentTimeoutSeconds ?? 60,
        gateTimeoutSeconds: o.gateTimeoutSeconds ?? 60,
        ...(o.limits ? { limits: o.limits } : {}),
      }),
    });
    return {
      db,
      root,
      home,
      repo,
      repoPath,
      scriptPath,
      file: async (title, body = '') =>
        (await createTicket(db.db, { repo: repo.name, title, body, actor: 'operator:test' })).key,
      async run({ timeoutMs = 60_000, during } = {}) {
        const f = await startFactory({
          handle: db,
          home,
          concurrency: o.concurrency ?? 2,
          untilIdle: true,
          logger: SILENT,
          heartbeatMs: 1000,
        });
        factory = f;
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          void f.stop();
        }, timeoutMs);
        try {
          await Promise.all([f.done, during?.(f)]);
        } finally {
          clearTimeout(timer);
          await f.stop();
          factory = null;
        }
        if (timedOut) throw new Error(`the factory did not go idle within ${timeoutMs} ms`);
      },
      outcome: (key) => outcomeOf(db, key),
      mainTip: () => git(repoPath, ['rev-parse', 'refs/heads/main']),
      async close() {
        try {
          await (factory as Factory | null)?.stop();
          await db.drop();
        } finally {
          await rm(root, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await db.drop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

export async function outcomeOf(db: TestDb, key: string): Promise<TicketOutcome> {
  const ticket = await getTicket(db.db, key);
  const journal = await readJournal(db.db, ticket.id);
  return {
    ticket,
    state: ticket.state,
    context: ticket.snapshot.context as unknown as TicketContext,
    journal,
    rejected: await readRejected(db.db, ticket.id),
    runs: await listRuns(db.db, ticket.id),
    events: (type) => journal.filter((row) => row.event_type === type),
    async artifacts(kind) {
      const rows = (await listArtifacts(db.db, ticket.id)).filter((a) => a.kind === kind);
      return Promise.all(rows.map((a) => getArtifact(db.db, a.id)));
    },
  };
}

/** Gate results of one gate (`RED`, `GREEN`, `LIVE`, ...) for a ticket, parsed. */
export async function gateResults(
  outcome: TicketOutcome,
  gate: string,
): Promise<
  { gate: string; command?: string; passed: boolean; output?: string; exitCode?: number | null }[]
> {
  return (await outcome.artifacts('gate_result'))
    .map((a) => JSON.parse(a.content))
    .filter((g) => g.gate === gate);
}

/** The states a ticket passed through, consecutive repeats collapsed (`SHIP.merging` style). */
export function pathOf(outcome: TicketOutcome): string[] {
  const states = outcome.journal.map((r) => {
    const value = r.snapshot.value as string | Record<string, string>;
    return typeof value === 'string' ? value : `${r.to_state}.${Object.values(value)[0]}`;
  });
  return states.filter((s, i) => s !== states[i - 1]);
}

/** True while some process is in process group `pgid` (kill(-pgid, 0) succeeds). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    return false;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    return false;
  }
}

/**
 * One harness per test, closed after each: returns the factory the test calls.
 *
 * @example
 * ```ts
 * const harness = useLoopHarness();
 * it('...', async () => { const lh = await harness({ script }); ... });
 * ```
 */
export function useLoopHarness(): (o: LoopHarnessOptions) => Promise<LoopHarness> {
  let current: LoopHarness | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return async (o) => (current = await createLoopHarness(o));
}
