/**
 * The orchestrator's own work (no agent): freezing the plan, the wall-clock budget timer and
 * removing a final ticket's worktree. SHIP's merge and live check are in ./ship-job.ts.
 */
import { getArtifact, insertArtifact } from '../db/artifacts.js';
import { effectResult, recordEffect } from '../db/effects.js';
import { getWorkspace, markWorkspaceRemoved } from '../db/workspaces.js';
import { applyEvent } from '../engine/apply-event.js';
import { removeWorktree } from '../workspace/index.js';
import { loadDispatch, type WorkPayload } from './dispatch.js';
import { report, type JobDeps } from './agent-job.js';

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

/**
 * The wall-clock budget ran out for one arming of the timer; a stale arming is refused by the
 * machine.
 */
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
