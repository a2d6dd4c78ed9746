/**
 * SHIP's orchestrator work: the merge job (build the merge commit from objects, run the test
 * command and live check on exactly that commit, only then move the base by compare-and-swap,
 * one repository at a time) and the post-merge live check (LIVE = verified after the merge, for
 * deployments that differ from the tree). Both run their commands in scratch checkouts.
 */
import type { TicketEventInput } from '../../machines/ticket.js';
import type { SandboxSpec } from '../agents/sandbox/index.js';
import { grantScratch } from './sandbox-specs.js';
import { subState } from '../../machines/ticket.js';
import { insertArtifact } from '../db/artifacts.js';
import { effectResult, recordEffect } from '../db/effects.js';
import { withRepoLock } from '../db/repo-locks.js';
import {
  type CommandGateResult,
  type MergeCheck,
  type MergeResult,
  mergeToBase,
  runCommandGate,
  ticketBranch,
  withScratchCheckout,
} from '../workspace/index.js';
import { haltedByTripwire, type JobDeps, report } from './agent-job.js';
import { type Dispatch, loadDispatch, type WorkPayload } from './dispatch.js';
import { describeCommand } from './gate-text.js';

/** Schedules the same job again after `delaySeconds` with the given payload. */
export type Reschedule = (payload: WorkPayload, delaySeconds: number) => Promise<void>;

/** Longest pause between two looks at a dirty checkout of the base. */
const MAX_CHECKOUT_POLL_SECONDS = 30;

/**
 * SHIP: merge the ticket into the base, tested first; once per journal row (effects table), and a
 * retry after the CAS recognizes the merge from git. A dirty user checkout of the base makes the
 * ticket wait (`SHIP.waiting_checkout`) and this job poll, with backoff, until it is clean.
 */
export async function mergeJob(
  deps: JobDeps,
  payload: WorkPayload,
  reschedule: Reschedule,
): Promise<void> {
  const d = await loadDispatch(deps.db, payload);
  if (!d || (await haltedByTripwire(deps, d, payload.runId!))) return;
  const runId = payload.runId!;
  const key = `${d.ticket.id}:${payload.seq}:merge`;
  // Ticket, run and repo are on every line already (bound at the job boundary, tasks.ts).
  const log = deps.logger;
  const result =
    (await effectResult<MergeResult>(deps.db, key)) ??
    (await withRepoLock(deps.db, d.repo.id, () => mergeTested(deps, d, runId), {
      onWait: () => log.debug('Waiting for the repository ship lock'),
    }));
  if (!result.ok && result.reason === 'CHECKOUT_DIRTY') {
    const detail = checkoutAdvice(d, result.path, result.detail);
    if (subState(d.ticket.snapshot.value) !== 'waiting_checkout') {
      log.info({ checkout: result.path, paths: result.detail.length }, 'Ship waits for checkout');
      return report(
        deps,
        d,
        { type: 'CHECKOUT_DIRTY', runId, path: result.path, detail },
        'orchestrator:merge',
      );
    }
    const wait = payload.wait ?? 0;
    return reschedule(
      { ...payload, wait: wait + 1 },
      Math.min(MAX_CHECKOUT_POLL_SECONDS, 2 ** wait),
    );
  }
  await recordEffect(deps.db, key, d.ticket.id, 'merge', async () => result);
  await report(deps, d, mergeEvent(runId, result), 'orchestrator:merge');
}

function mergeEvent(
  runId: string,
  result: Exclude<MergeResult, { reason: 'CHECKOUT_DIRTY' }>,
): TicketEventInput {
  if (result.ok) return { type: 'MERGED', runId, commit: result.commit };
  if (result.reason === 'MERGE_CHECK_FAILED')
    return {
      type: 'MERGE_CHECK_FAILED',
      runId,
      commit: result.commit,
      detail: result.detail.slice(0, 8000),
    };
  return {
    type: 'MERGE_CONFLICT',
    runId,
    detail: `MERGE_CONFLICT: ${result.detail.join(', ')}`.slice(0, 8000),
  };
}

/** The merge, with the repository's test command and live check run on each candidate. */
function mergeTested(deps: JobDeps, d: Dispatch, runId: string): Promise<MergeResult> {
  return mergeToBase({
    repoPath: d.repo.path,
    baseBranch: d.repo.base_branch,
    tip: `refs/heads/${ticketBranch(d.ticket.key)}`,
    message:
      `Merge ${d.ticket.key}: ${d.ticket.title}\n\n` +
      `Loopwright-Ticket: ${d.ticket.key}\nLoopwright-Run: ${runId}\n`,
    check: (commit) => checkMergeCommit(deps, d, runId, commit),
  });
}

/** Test command, then the live check (if configured), each in its own scratch checkout. */
async function checkMergeCommit(
  deps: JobDeps,
  d: Dispatch,
  runId: string,
  commit: string,
): Promise<MergeCheck> {
  const testCommand = d.repo.test_cmd ?? 'npm test';
  const test = await gateOnCommit(deps, d, runId, {
    gate: 'MERGE_TEST',
    label: 'test command on the merge commit',
    command: testCommand,
    commit,
  });
  if (!test.result.passed) return { passed: false, detail: test.text };
  if (!d.repo.live_cmd) return { passed: true };
  const live = await gateOnCommit(deps, d, runId, {
    gate: 'MERGE_LIVE',
    label: 'live check on the merge commit',
    command: d.repo.live_cmd,
    commit,
  });
  return live.result.passed ? { passed: true } : { passed: false, detail: live.text };
}

/** The one line `status` shows for a ticket waiting on the user's checkout. */
function checkoutAdvice(d: Dispatch, checkout: string, paths: readonly string[]): string {
  const shown = paths.slice(0, 10).join(', ') + (paths.length > 10 ? ', ...' : '');
  return (
    `${d.repo.base_branch} is checked out in ${checkout} with uncommitted changes (${shown}); ` +
    `commit or stash in ${checkout}, or switch it off ${d.repo.base_branch} — the merge waits ` +
    `and resumes by itself`
  ).slice(0, 8000);
}

/**
 * After the merge: the repo's live-check command, run against the merged base. Without a live
 * check configured, the test command on the merged base is the check — merged is not shipped.
 */
export async function liveCheckJob(deps: JobDeps, payload: WorkPayload): Promise<void> {
  const d = await loadDispatch(deps.db, payload);
  if (!d) return;
  const runId = payload.runId!;
  const commit = d.context.mergeCommit!;
  const { result, text } = await gateOnCommit(deps, d, runId, {
    gate: 'LIVE',
    label: d.repo.live_cmd ? 'live check' : 'live check (test command on merged base)',
    command: d.repo.live_cmd ?? d.repo.test_cmd ?? 'npm test',
    commit,
  });
  const event: TicketEventInput = result.passed
    ? { type: 'LIVE_CHECK_PASSED', runId, evidence: `${commit}: ${text}`.slice(0, 8000) }
    : { type: 'LIVE_CHECK_FAILED', runId, detail: text.slice(0, 8000) };
  await report(deps, d, event, 'orchestrator:live');
}

/**
 * A gate command is agent-written code: with the repository's `sandbox: bwrap` it runs in the
 * sandbox, writing only its scratch checkout (handed to the sandbox user), the registered
 * repository hidden.
 */
function gateSandbox(d: Dispatch, dir: string): { sandbox?: SandboxSpec } {
  if (d.settings.sandbox !== 'bwrap') return {};
  return { sandbox: { mode: 'bwrap', writable: [dir], hide: [d.repo.path] } };
}

/**
 * Run one gate command in a scratch checkout of `commit` and store its result as a `gate_result`
 * artifact.
 */
async function gateOnCommit(
  deps: JobDeps,
  d: Dispatch,
  runId: string,
  gate: { gate: string; label: string; command: string; commit: string },
): Promise<{ result: CommandGateResult; text: string }> {
  const timeoutMs = d.settings.gateTimeoutSeconds * 1000;
  const result = await withScratchCheckout(
    d.repo.path,
    gate.commit,
    (dir) => runCommandGate(gate.command, dir, { timeoutMs, ...gateSandbox(d, dir) }),
    {
      home: deps.home,
      // The scratch checkout is the sandbox user's before the gate runs (see gateSandbox).
      prepare: (dir) => grantScratch(d, dir),
    },
  );
  await insertArtifact(deps.db, {
    ticketId: d.ticket.id,
    kind: 'gate_result',
    runId,
    content: JSON.stringify(
      {
        gate: gate.gate,
        command: gate.command,
        commit: gate.commit,
        passed: result.passed,
        exitCode: result.exitCode,
        durationMs: Math.round(result.durationMs),
        output: result.output.slice(-8000),
      },
      null,
      2,
    ),
  });
  return { result, text: describeCommand(gate.label, gate.command, result) };
}
