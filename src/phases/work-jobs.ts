/**
 * The orchestrator's own work (no agent): freezing the plan, merging, the live check after the
 * merge, the wall-clock budget timer and removing a final ticket's worktree.
 */
import { getArtifact, insertArtifact } from '../db/artifacts.js';
import { effectResult, recordEffect } from '../db/effects.js';
import { getWorkspace, markWorkspaceRemoved } from '../db/workspaces.js';
import { applyEvent } from '../engine/apply-event.js';
import {
  mergeToBase,
  removeWorktree,
  runCommandGate,
  ticketBranch,
  withScratchCheckout,
} from '../workspace/index.js';
import { loadDispatch, type WorkPayload } from './dispatch.js';
import { describeCommand } from './gate-text.js';
import { haltedByTripwire, report, type JobDeps } from './agent-job.js';

/** PLAN_APPROVED: copy the negotiated plan into an immutable approved_plan artifact. */
export async function freezePlanJob(deps: JobDeps, payload: WorkPayload): Promise<void> {
  const d = await loadDispatch(deps.db, payload);
  if (!d || d.context.planArtifactId === null) return;
  const plan = await getArtifact(deps.db, d.context.planArtifactId);
  const key = `${d.ticket.id}:${payload.seq}:freezePlan`;
  const frozen =
    (await effectResult<{ id: string; sha256: string }>(deps.db, key)) ??
    (await recordEffect(deps.db, key, d.ticket.id, 'freeze_plan', () =>
      insertArtifact(deps.db, {
        ticketId: d.ticket.id,
        kind: 'approved_plan',
        content: plan.content,
      }),
    ));
  await report(
    deps,
    d,
    {
      type: 'PLAN_FROZEN',
      runId: payload.runId!,
      artifactId: Number(frozen.id),
      sha256: frozen.sha256,
    },
    'orchestrator:freeze',
  );
}

/** SHIP: merge the ticket branch into the base (never rewriting it), once per journal row. */
export async function mergeJob(deps: JobDeps, payload: WorkPayload): Promise<void> {
  const d = await loadDispatch(deps.db, payload);
  if (!d || (await haltedByTripwire(deps, d, payload.runId!))) return;
  const key = `${d.ticket.id}:${payload.seq}:merge`;
  const result =
    (await effectResult<Awaited<ReturnType<typeof mergeToBase>>>(deps.db, key)) ??
    (await recordEffect(deps.db, key, d.ticket.id, 'merge', () =>
      mergeToBase({
        repoPath: d.repo.path,
        baseBranch: d.repo.base_branch,
        branch: ticketBranch(d.ticket.key),
        message: `Merge ${d.ticket.key}: ${d.ticket.title}`,
        allowFastForward: false,
      }),
    ));
  const runId = payload.runId!;
  const event = result.ok
    ? ({ type: 'MERGED', runId, commit: result.commit } as const)
    : ({
        type: 'MERGE_CONFLICT',
        runId,
        detail: `${result.reason}: ${result.detail.join(', ')}`,
      } as const);
  await report(deps, d, event, 'orchestrator:merge');
}

/**
 * After the merge: the repo's live-check command, run against the merged base. Without a live
 * check configured, the test command on the merged base is the check — merged is not shipped.
 */
export async function liveCheckJob(deps: JobDeps, payload: WorkPayload): Promise<void> {
  const d = await loadDispatch(deps.db, payload);
  if (!d) return;
  const command = d.repo.live_cmd ?? d.repo.test_cmd ?? 'npm test';
  const commit = d.context.mergeCommit!;
  const result = await withScratchCheckout(
    d.repo.path,
    commit,
    (dir) => runCommandGate(command, dir, { timeoutMs: d.settings.gateTimeoutSeconds * 1000 }),
    { home: deps.home },
  );
  const text = describeCommand(
    d.repo.live_cmd ? 'live check' : 'live check (test command on merged base)',
    command,
    result,
  );
  await insertArtifact(deps.db, {
    ticketId: d.ticket.id,
    kind: 'gate_result',
    runId: payload.runId!,
    content: JSON.stringify(
      {
        gate: 'LIVE',
        command,
        commit,
        passed: result.passed,
        exitCode: result.exitCode,
        durationMs: Math.round(result.durationMs),
        output: result.output.slice(-8000),
      },
      null,
      2,
    ),
  });
  const event = result.passed
    ? ({
        type: 'LIVE_CHECK_PASSED',
        runId: payload.runId!,
        evidence: `${commit}: ${text}`.slice(0, 8000),
      } as const)
    : ({ type: 'LIVE_CHECK_FAILED', runId: payload.runId!, detail: text.slice(0, 8000) } as const);
  await report(deps, d, event, 'orchestrator:live');
}

/** The wall-clock budget ran out for one arming of the timer; a stale arming is refused by the machine. */
export async function budgetTimerJob(deps: JobDeps, payload: WorkPayload): Promise<void> {
  await applyEvent(
    deps.db,
    { id: payload.ticketId },
    {
      type: 'BUDGET_EXCEEDED',
      kind: 'time',
      timer: payload.timer ?? 0,
      detail: 'wall-clock budget exhausted',
    },
    {
      actor: 'timer',
      idempotencyKey: `timer:${payload.ticketId}:${payload.timer ?? 0}`,
    },
  );
}

/** A final ticket's worktree is removed after the repo's retention period. */
export async function releaseWorkspaceJob(
  deps: JobDeps,
  payload: WorkPayload,
  reschedule: (delaySeconds: number) => Promise<void>,
): Promise<void> {
  const d = await loadDispatch(deps.db, payload);
  const ws = d && (await getWorkspace(deps.db, d.ticket.id));
  if (!d || !ws || ws.status === 'removed') return;
  if (!['LIVE', 'CANCELLED'].includes(d.ticket.state)) return;
  const age = (Date.now() - new Date(d.ticket.state_changed_at).getTime()) / 1000;
  const wait = d.settings.worktreeRetentionSeconds - age;
  if (wait > 0) return reschedule(Math.ceil(wait));
  await removeWorktree({
    repoPath: d.repo.path,
    path: ws.path,
    branch: ws.branch,
    deleteBranch: d.ticket.state === 'LIVE',
  });
  await markWorkspaceRemoved(deps.db, d.ticket.id);
}
