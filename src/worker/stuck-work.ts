/**
 * Stuck work becomes a journaled outcome. A reporting job (agent run, freeze, merge, live check)
 * that keeps failing with an error that is not an outage — a workspace an agent broke
 * (`rm -rf .git`, a `.git` pointing nowhere, `chmod 000`), a missing directory, a refused
 * permission — would otherwise be retried until graphile-worker gives up and leave its ticket
 * silently waiting. After {@link GIVE_UP_AFTER} attempts the ticket escalates instead, with
 * `WORKSPACE_BROKEN` or `JOB_FAILED` and the error's first line; `loopwright retry` resumes it.
 * Database outages never count: those jobs are retried and the outage is logged once.
 */
import type { Job } from 'graphile-worker';
import type { Logger } from 'pino';
import { firstLine, isTransientDbError } from '../db/availability.js';
import type { Kdb } from '../db/connection.js';
import { applyEvent } from '../engine/apply-event.js';
import { GitError } from '../workspace/git.js';
import { WorkspaceError } from '../workspace/errors.js';

/** Attempts of one job before its ticket escalates (graphile-worker allows 5). */
export const GIVE_UP_AFTER = 3;

/** errno codes of a file system that refuses, or a path that is gone. */
const WORKSPACE_ERRNOS = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EISDIR', 'ELOOP']);

const WORKSPACE_TEXT =
  /not a git repository|gitdir|\.git\b|worktree|permission denied|no such file or directory/i;

/** Which reason a persistent failure escalates with. */
export function failureReason(error: unknown): 'WORKSPACE_BROKEN' | 'JOB_FAILED' {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    if (e instanceof GitError || e instanceof WorkspaceError) return 'WORKSPACE_BROKEN';
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && WORKSPACE_ERRNOS.has(code)) return 'WORKSPACE_BROKEN';
    e = (e as { cause?: unknown }).cause;
  }
  return WORKSPACE_TEXT.test(firstLine(error)) ? 'WORKSPACE_BROKEN' : 'JOB_FAILED';
}

/** Whether this failure of this attempt should end the retries (see the module comment). */
export function shouldGiveUp(error: unknown, job: Pick<Job, 'attempts'>, shuttingDown: boolean) {
  return !shuttingDown && job.attempts >= GIVE_UP_AFTER && !isTransientDbError(error);
}

/**
 * Journal JOB_FAILED for the job's run; the job is then settled (a superseded run's event is
 * refused by the fence, and nothing waits for it either). Keyed, so a repeat is a no-op.
 */
export async function journalGiveUp(
  db: Kdb,
  logger: Logger,
  task: string,
  runId: string,
  ticketId: string,
  job: Pick<Job, 'id' | 'attempts'>,
  error: unknown,
): Promise<void> {
  const reason = failureReason(error);
  const detail = `${task} failed ${job.attempts} times: ${firstLine(error, 2000)}`;
  const outcome = await applyEvent(
    db,
    { id: ticketId },
    { type: 'JOB_FAILED', runId, reason, detail },
    { actor: 'worker', idempotencyKey: `jobfailed:${runId}` },
  );
  logger.warn(
    { task, job: job.id, reason, outcome: outcome.status },
    'Job given up; ticket escalated',
  );
}
