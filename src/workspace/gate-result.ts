/**
 * The shape every deterministic gate returns. A failed gate is an answer, not an exception: the
 * orchestrator turns `reason` into the ticket's reason code and stores `violations` as evidence.
 */

/** Why one path broke a gate. */
export type ViolationWhy =
  | 'outside-loopwright-dir'
  | 'out-of-scope'
  | 'path-traversal'
  | 'git-internals'
  | 'glob-refused'
  | 'symlink-dangling'
  | 'symlink-target-outside'
  | 'symlink-target-out-of-scope'
  | 'resolves-outside'
  | 'hardlink'
  | 'outside-write'
  | 'missing-planned-test'
  | 'no-test-changes'
  | 'submodule'
  | 'red-test-modified'
  | 'red-test-deleted'
  | 'workspace-tampered';

/** One offending path (or glob), with a machine-readable why and an optional human detail. */
export interface Violation {
  readonly path: string;
  readonly why: ViolationWhy;
  readonly detail?: string;
}

/** Pass, or fail with a reason code from DESIGN.md §2 and the evidence. */
export type GateResult<Reason extends string> =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: Reason; readonly violations: readonly Violation[] };

/** Result of the scope gate and the outside-write probe. */
export type ScopeGateResult = GateResult<'SCOPE_VIOLATION'>;

/** Build a result from a list of violations: empty means pass. */
export function gateResult<Reason extends string>(
  reason: Reason,
  violations: readonly Violation[],
): GateResult<Reason> {
  return violations.length === 0 ? { ok: true } : { ok: false, reason, violations };
}
