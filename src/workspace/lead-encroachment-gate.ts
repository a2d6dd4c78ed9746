/**
 * A Lead writes plans and handovers under `.loopwright/` and nothing else (DESIGN.md §5).
 */
import { changedPaths } from './changes.js';
import { gateResult, type GateResult } from './gate-result.js';

/**
 * Fail with LEAD_ENCROACHMENT if anything outside `.loopwright/` differs from `sinceRef`
 * (committed, staged, unstaged or untracked; ignored files do not count).
 *
 * @example
 * ```ts
 * const result = await leadEncroachmentGate(wt.path, headBeforeLeadRun);
 * if (!result.ok) escalate('LEAD_ENCROACHMENT', result.violations);
 * ```
 */
export async function leadEncroachmentGate(
  worktree: string,
  sinceRef: string,
): Promise<GateResult<'LEAD_ENCROACHMENT'>> {
  const changes = await changedPaths(worktree, sinceRef);
  return gateResult(
    'LEAD_ENCROACHMENT',
    changes.map((change) => ({
      path: change.path,
      why: 'outside-loopwright-dir' as const,
      detail: change.status,
    })),
  );
}
