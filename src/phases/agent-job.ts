/**
 * The `agent_run` job: one disposable agent subprocess for one phase of one ticket.
 *
 * Fresh context every time: the worktree is reset to its last committed state, the handover is
 * written anew, the agent runs in its own process group with a scrubbed environment, and the
 * orchestrator then checks the evidence itself (src/phases/evaluate.ts) and applies the resulting
 * event — fenced by run id and keyed `result:<run>`, so a retried job can never apply it twice.
 */
import { unavailableEvent } from '../agents/unavailable-event.js';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Phase, Role, TicketEventInput } from '../../machines/ticket.js';
import type { AgentOutcome, AgentProvider, SpawnedGroup } from '../agents/provider.js';
import { retryTransient } from '../db/availability.js';
import { createProvider } from '../agents/providers.js';
import type { Kdb } from '../db/connection.js';
import { latestArtifact } from '../db/artifacts.js';
import { currentRunIdOf } from '../db/tickets.js';
import { batchStopped } from '../oracle/tripwire.js';
import { applyWithDiscoveries, type DiscoveredItem } from '../engine/discovered-work.js';
import { readReport } from './report-schema.js';
import {
  closeRunLeftRunning,
  markRunFinished,
  markRunSpawned,
  markRunStarted,
} from '../db/runs.js';
import { applyEvent } from '../engine/apply-event.js';
import { redispatchRun } from '../engine/redispatch.js';
import { inTransaction } from '../engine/transaction.js';
import {
  type OutsideWriteProbe,
  outsideWriteProbe,
  resetWorkspace,
  type RefTip,
  type Worktree,
} from '../workspace/index.js';
import {
  currentPlan,
  ensureWorkspace,
  loadDispatch,
  syncWithBase,
  withoutUnjudgedWork,
  worktreesRoot,
  type Dispatch,
  type WorkPayload,
} from './dispatch.js';
import { evaluateRun, validateGates } from './evaluate.js';
import { handled } from './handled.js';
import { writeHandover, systemPromptFor } from './handover.js';
import { agentSandbox, grantWorkspace } from './sandbox-specs.js';
import { agentFor, type AgentChoice } from '../config/repo-settings.js';

export interface JobDeps {
  readonly db: Kdb;
  readonly home: string;
  readonly poolId: string | null;
  readonly logger: Logger;
  /** Aborted on shutdown: running agents are killed and the job is retried later. */
  readonly signal: AbortSignal;
}

export const AGENT_PROMPT =
  'Read .loopwright/task.md and follow it. Write .loopwright/report.json.';

export async function runAgentJob(deps: JobDeps, payload: WorkPayload): Promise<void> {
  const d = await loadDispatch(deps.db, payload);
  // Ticket key, run and repo are bound at the job boundary (src/worker/tasks.ts).
  const log = deps.logger.child({ phase: payload.phase });
  if (!d) return log.info('Run superseded; nothing to do');
  const runId = payload.runId!;
  if (await haltedByTripwire(deps, d, runId)) return;
  const role = payload.role as Role;
  const phase = payload.phase as Phase;
  // Reads that need no workspace go out now and are awaited where used, while git works.
  const planned = handled(
    phase === 'plan_draft' ? Promise.resolve(null) : currentPlan(deps.db, d.context),
  );
  const findings = handled(findingsFor(deps.db, d, phase));
  const opened = await ensureWorkspace(deps.db, deps.home, d);
  const made = commitOfThisRun(opened.tip, runId);
  if (made) {
    // A retried job (crash or database outage after the commit, before the event): judge the
    // commit this run already made instead of running a fresh agent over it.
    log.info({ commit: made.commit }, 'Run already committed; re-evaluating its commit');
    // Its end may not have been recorded (the database went away just then): say so, or the
    // run would read as running for ever.
    await closeRunLeftRunning(
      deps.db,
      runId,
      'its end was not recorded (database unavailable); the commit it made was judged on a retry',
    );
    const event = await evaluateRun(deps.db, {
      d,
      wt: opened.wt,
      runId,
      phase,
      headBefore: made.parent,
      plan: (await planned)?.plan ?? null,
      costUsd: 0,
      outside: { ok: true },
      home: deps.home,
      madeCommit: made.commit,
    });
    return report(deps, d, event, `agent:${role}:${runId}`);
  }
  const current = await withoutUnjudgedWork(deps.db, d, opened, runId, log);
  const { wt, tip: headBefore } = SYNCED_PHASES.has(phase)
    ? await syncWithBase(d, current)
    : { wt: current.wt, tip: current.tip.commit };
  // The "before" picture of what surrounds the workspace (never the workspace itself), taken
  // while the workspace is reset: nothing here writes there. Under bwrap the agent cannot write
  // any of those places (the repository and its git dir are hidden, the rest of the file system
  // is read-only), so the two walks of the repository's checkout per run are skipped there.
  const probe = handled(
    d.settings.sandbox === 'bwrap'
      ? Promise.resolve(SANDBOXED_PROBE)
      : outsideWriteProbe({
          repoPath: d.repo.path,
          worktreesRoot: worktreesRoot(deps.home),
          worktreePath: wt.path,
        }),
  );
  // A clone made just now already holds the tip; anything else starts from it afresh.
  if (!current.cloned || headBefore !== current.tip.commit)
    await resetWorkspace(wt, headBefore, { checkedIntact: true });
  if (phase === 'validate') {
    const failed = await validateGates(deps.db, d, wt, runId, deps.home, headBefore);
    if (failed) return report(deps, d, failed, 'orchestrator:gates');
  }
  const plan = await planned;
  const started = handled(startRun(deps, d, runId, role));
  let prepared: { launch: Launch; outside: OutsideWriteProbe };
  try {
    prepared = await prepareRun(d, { wt, runId, role, phase, plan }, findings, probe, started);
  } catch (error) {
    await startFailed(deps, runId, started, error);
    throw error;
  }
  const { launch, outside } = prepared;
  await concludeRun(deps, d, { ...launch, headBefore, plan, outside });
}

/** Run the agent, judge what it left, and report the event (or why there is none). */
async function concludeRun(
  deps: JobDeps,
  d: Dispatch,
  run: Launch & { headBefore: string; plan: CurrentPlan; outside: OutsideWriteProbe },
): Promise<void> {
  const { wt, runId, role, phase } = run;
  const log = deps.logger.child({ phase });
  const { outcome, finished } = await runAgent(deps, d, run);
  if (outcome.status === 'killed') {
    await finished;
    if (deps.signal.aborted) {
      // Shutdown killed the agent: the same work goes out again under a new run id (this run's
      // row stays as it ended), for whichever orchestrator is up next.
      await markRunFinished(deps.db, runId, {
        ...finishedFields(outcome),
        status: 'cancelled',
        error: 'interrupted: the orchestrator shut down; re-dispatched under a new run id',
      });
      await inTransaction(deps.db, (trx) =>
        redispatchRun(trx, d.ticket.id, runId, `worker:${deps.poolId ?? 'local'}`),
      );
      return log.info('Run interrupted by shutdown; re-dispatched');
    }
    return log.info('Run superseded while running; agent stopped');
  }
  const unavailable = unavailableEvent(outcome, {
    role,
    choice: agentFor(d.settings, role),
    runId,
    costUsd: outcome.costUsd ?? 0,
    stallSeconds: d.settings.agentStallSeconds,
  });
  const event =
    unavailable ??
    (await eventFor(deps.db, outcome, {
      d,
      wt,
      runId,
      phase,
      headBefore: run.headBefore,
      plan: run.plan?.plan ?? null,
      costUsd: outcome.costUsd ?? 0,
      outside: await run.outside.check(),
      home: deps.home,
    }));
  // The run's row says how it ended before its result moves the ticket.
  await finished;
  log.info(
    { event: event.type, status: outcome.status, ms: outcome.durationMs },
    'Agent run evaluated',
  );
  const discovered = ACCEPTED_RESULTS.has(event.type) ? await discoveredWorkOf(wt.path, phase) : [];
  const actor = `agent:${role}:${runId}`;
  if (discovered.length === 0) return report(deps, d, event, actor);
  const filed = await applyWithDiscoveries(
    deps.db,
    { id: d.ticket.id },
    event,
    { actor, idempotencyKey: `result:${runId}`, runId },
    discovered,
  );
  log.info({ filed: filed.filed, refused: filed.refused }, 'Discovered work filed');
}

/** The outside-write tripwire of a sandboxed run: the sandbox's mounts already forbid it all. */
const SANDBOXED_PROBE: OutsideWriteProbe = {
  snapshot: { areas: [], excluded: [], maxEntries: 0, entries: {}, listed: [] },
  check: async () => ({ ok: true }),
};

/**
 * Everything the agent needs before it starts: the handover, the workspace handed to the sandbox
 * user, the system prompt, the outside-write snapshot, and the run recorded as started.
 */
async function prepareRun(
  d: Dispatch,
  run: Pick<Launch, 'wt' | 'runId' | 'role' | 'phase'> & { plan: CurrentPlan },
  findings: Promise<readonly string[]>,
  probe: Promise<OutsideWriteProbe>,
  started: Promise<string>,
): Promise<{ launch: Launch; outside: OutsideWriteProbe }> {
  const { wt, role, phase, plan } = run;
  const systemPrompt = handled(systemPromptFor(role, wt.path));
  await writeHandover(wt.path, {
    ticketKey: d.ticket.key,
    title: d.ticket.title,
    body: d.ticket.body,
    repoName: d.repo.name,
    role,
    phase,
    counter: counterOf(d, phase),
    baseCommit: wt.baseCommit,
    redCommit: d.context.redCommit ?? null,
    testCommand: d.repo.test_cmd ?? 'npm test',
    checks: d.repo.check_cmds,
    plan: plan?.plan ?? null,
    planText: plan?.text ?? null,
    approvedPlanSha: plan?.sha256 ?? null,
    findings: await findings,
  });
  await grantWorkspace(d, wt);
  const [outside, transcriptPath] = await Promise.all([probe, started]);
  return { launch: { ...run, systemPrompt: await systemPrompt, transcriptPath }, outside };
}

/**
 * The agent could not be started (the job will be retried): the run, already marked running,
 * says so until the retry starts it again.
 */
async function startFailed(
  deps: JobDeps,
  runId: string,
  started: Promise<string>,
  error: unknown,
): Promise<void> {
  if (!(await started.then(() => true).catch(() => false))) return;
  await markRunFinished(deps.db, runId, {
    status: 'failed',
    exitCode: null,
    signal: null,
    costUsd: null,
    tokensIn: null,
    tokensOut: null,
    error: `not started: ${(error as Error).message ?? String(error)}`.slice(0, 2000),
  }).catch(() => {});
}

type CurrentPlan = Awaited<ReturnType<typeof currentPlan>>;

/** Record that the job picked the run up and where it runs; returns the transcript's path. */
async function startRun(deps: JobDeps, d: Dispatch, runId: string, role: Role): Promise<string> {
  const choice = agentFor(d.settings, role);
  const transcriptPath = path.join(deps.home, 'runs', d.ticket.key, `${runId}.jsonl`);
  await markRunStarted(deps.db, runId, {
    poolId: deps.poolId,
    host: os.hostname(),
    provider: choice.provider,
    model: choice.model ?? null,
    transcriptPath,
  });
  return transcriptPath;
}

interface Launch {
  readonly wt: Worktree;
  readonly runId: string;
  readonly role: Role;
  readonly phase: Phase;
  readonly systemPrompt: string;
  readonly transcriptPath: string;
}

/**
 * Run the agent (its run already marked started); `finished` records how it ended, while the
 * caller evaluates the workspace.
 */
async function runAgent(
  deps: JobDeps,
  d: Dispatch,
  l: Launch,
): Promise<{ outcome: AgentOutcome; finished: Promise<void> }> {
  const { runId, role, phase } = l;
  const choice = agentFor(d.settings, role);
  const superseded = watchFence(deps, d.ticket.id, runId);
  // Recording the group is the orchestrator's write, not the agent's doing: a database that stays
  // away through the retries fails the job (retried later), never the agent's contract.
  let unrecorded: unknown;
  const record = (p: SpawnedGroup) =>
    retryTransient(() => markRunSpawned(deps.db, runId, p)).catch((error: unknown) => {
      unrecorded = error;
      throw error;
    });
  const outcome = await providerFor(choice, d)
    .run({
      runId,
      role,
      phase,
      cwd: l.wt.path,
      prompt: AGENT_PROMPT,
      systemPrompt: l.systemPrompt,
      ...(choice.model ? { model: choice.model } : {}),
      timeoutMs: d.settings.agentTimeoutSeconds * 1000,
      stallMs: d.settings.agentStallSeconds * 1000,
      maxOutputBytes: d.settings.maxOutputBytes,
      transcriptPath: l.transcriptPath,
      env: taskEnv(d, role, phase),
      options: runOptions(choice),
      onSpawn: record,
      sandbox: agentSandbox(d, l.wt, role),
      signal: AbortSignal.any([deps.signal, superseded.signal]),
    })
    .finally(() => superseded.stop());
  if (unrecorded !== undefined) throw unrecorded;
  const end = superseded.signal.aborted
    ? {
        ...finishedFields(outcome),
        status: 'cancelled' as const,
        error: 'superseded: the ticket moved on while the agent ran',
      }
    : {
        ...finishedFields(outcome),
        status: RUN_STATUS[outcome.status],
        error: outcome.errorMessage ?? null,
      };
  // The orchestrator's write again: a database blip is waited out, not charged to the run.
  const finished = retryTransient(() => markRunFinished(deps.db, runId, end));
  return { outcome, finished: handled(finished) };
}

const RUN_STATUS = {
  ok: 'succeeded',
  timeout: 'timed_out',
  killed: 'cancelled',
  error: 'failed',
  unavailable: 'failed',
  stalled: 'failed',
} as const satisfies Record<AgentOutcome['status'], string>;

function providerFor(choice: AgentChoice, d: Dispatch): AgentProvider {
  const extra = {
    ...(choice.extraArgs ? { extraArgs: choice.extraArgs } : {}),
    ...(choice.env ? { env: choice.env } : {}),
  };
  if (choice.provider === 'scripted')
    return createProvider('scripted', {
      ...extra,
      ...(d.settings.script ? { script: d.settings.script } : {}),
    });
  if (choice.provider === 'command')
    return createProvider('command', {
      ...extra,
      command: choice.command ?? [],
      vendor: choice.vendor ?? 'none',
    });
  return createProvider(choice.provider, extra);
}

/** Per-run provider options from the repository's settings for the role. */
function runOptions(choice: AgentChoice) {
  return {
    ...(choice.permissionMode ? { permissionMode: choice.permissionMode } : {}),
    ...(choice.maxTurns ? { maxTurns: choice.maxTurns } : {}),
    ...(choice.maxBudgetUsd ? { maxBudgetUsd: choice.maxBudgetUsd } : {}),
  };
}

function taskEnv(d: Dispatch, role: Role, phase: Phase): Record<string, string> {
  return {
    LOOPWRIGHT_TICKET: d.ticket.key,
    LOOPWRIGHT_TICKET_TITLE: d.ticket.title,
    LOOPWRIGHT_ROLE: role,
    LOOPWRIGHT_PHASE: phase,
    LOOPWRIGHT_ATTEMPT: String(phase === 'red' ? d.context.redAttempt : d.context.attempt),
    LOOPWRIGHT_ROUND: String(d.context.round),
    ...(d.settings.script ? { LOOPWRIGHT_SCRIPT: d.settings.script } : {}),
  };
}

async function eventFor(
  db: Kdb,
  outcome: AgentOutcome,
  facts: Parameters<typeof evaluateRun>[1],
): Promise<TicketEventInput> {
  const run = { runId: facts.runId, costUsd: facts.costUsd };
  if (outcome.status === 'timeout') return { type: 'AGENT_TIMEOUT', ...run };
  if (outcome.status === 'error') {
    const why =
      outcome.errorMessage ?? outcome.subtype ?? `exit ${outcome.exitCode ?? outcome.signal}`;
    return {
      type: 'REPORT_INVALID',
      ...run,
      errors: [`agent failed: ${why}${outcome.outputTruncated ? ' (output cap reached)' : ''}`],
    };
  }
  return evaluateRun(db, facts);
}

/** Apply the run's result; the idempotency key makes a retried job's second report a no-op. */
export async function report(
  deps: Pick<JobDeps, 'db'>,
  d: Dispatch,
  event: TicketEventInput,
  actor: string,
): Promise<void> {
  const runId = (event as { runId: string }).runId;
  await applyEvent(deps.db, { id: d.ticket.id }, event, {
    actor,
    idempotencyKey: `result:${runId}`,
  });
}

/**
 * A batch whose definition of done changed dispatches nothing: the ticket escalates with
 * VERIFIER_CHANGED and waits for `loopwright batch repin`.
 */
export async function haltedByTripwire(
  deps: Pick<JobDeps, 'db'>,
  d: Dispatch,
  runId: string,
): Promise<boolean> {
  const stopped = await batchStopped(deps.db, d.ticket.batch_id);
  if (!stopped) return false;
  await applyEvent(
    deps.db,
    { id: d.ticket.id },
    { type: 'VERIFIER_CHANGED', detail: stopped },
    { actor: 'tripwire', idempotencyKey: `verifier:${runId}` },
  );
  return true;
}

/** Phases that start from the base branch's latest commits (see syncWithBase). */
const SYNCED_PHASES: ReadonlySet<Phase> = new Set(['red', 'build', 'validate']);

/**
 * Aborts when the ticket's current run is no longer this one (a budget escalation, a cancel, a
 * rewind): the agent is stopped instead of spending until it finishes only to be fenced out.
 */
function watchFence(
  deps: JobDeps,
  ticketId: string,
  runId: string,
): { signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  const timer = setInterval(() => {
    void currentRunIdOf(deps.db, ticketId)
      .then((current) => {
        if (current !== undefined && current !== runId) controller.abort(new Error('superseded'));
      })
      .catch(() => {});
  }, FENCE_POLL_MS);
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}

const FENCE_POLL_MS = 2000;

function finishedFields(outcome: AgentOutcome) {
  return {
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    costUsd: outcome.costUsd,
    tokensIn: outcome.tokensIn,
    tokensOut: outcome.tokensOut,
  };
}

/** Results whose report's discovered work is filed (a rejected attempt's discoveries are not). */
const ACCEPTED_RESULTS = new Set([
  'PLAN_READY',
  'PLAN_REVIEWED',
  'RED_CONFIRMED',
  'BUILD_READY',
  'VERDICT',
]);

async function discoveredWorkOf(worktree: string, phase: Phase): Promise<DiscoveredItem[]> {
  const read = await readReport(worktree, phase);
  return read.ok ? read.report.discoveredWork : [];
}

/** The ticket branch's tip when this run made it (its `Loopwright-Run` trailer), and its parent. */
function commitOfThisRun(tip: RefTip, runId: string): { commit: string; parent: string } | null {
  const parent = tip.parents[0];
  return tip.run === runId && parent ? { commit: tip.commit, parent } : null;
}

function counterOf(d: Dispatch, phase: Phase): string | null {
  const l = d.context.limits;
  if (phase === 'plan_critique' || phase === 'plan_revise')
    return `${d.context.round} of ${l.maxPlanRounds}`;
  if (phase === 'red') return `${d.context.redAttempt} of ${l.maxRedAttempts}`;
  if (phase === 'build' || phase === 'validate') return `${d.context.attempt} of ${l.maxAttempts}`;
  return null;
}

async function findingsFor(db: Kdb, d: Dispatch, phase: Phase): Promise<readonly string[]> {
  if (phase === 'build') return d.context.findings;
  if (phase !== 'plan_revise') return [];
  const review = await latestArtifact(db, d.ticket.id, 'plan_review');
  return review ? (JSON.parse(review.content) as { critiques: string[] }).critiques : [];
}
