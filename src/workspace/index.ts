/**
 * Workspaces: per-ticket git worktrees, the deterministic gates the orchestrator runs itself, and
 * local merging. Everything git goes through ./git.ts.
 */
export { GitError, LOOPWRIGHT_IDENTITY, git, runGit, runGitBytes } from './git.js';
export { WorkspaceError } from './errors.js';
export {
  LOOPWRIGHT_DIR,
  ensureLoopwrightExcluded,
  listWorktrees,
  type WorktreeEntry,
} from './repository.js';
export {
  BRANCH_PREFIX,
  branchTip,
  createWorktree,
  openWorkspace,
  removeWorktree,
  resetWorkspace,
  ticketBranch,
  workspaceTampering,
  type CreateWorktreeOptions,
  type OpenedWorkspace,
  type RemoveWorktreeResult,
  type Worktree,
} from './worktree.js';
export {
  acceptCommit,
  commitAll,
  stageCommit,
  type CommitTrailers,
  type StagedCommit,
  type TreeEntry,
} from './stage-commit.js';
export { algorithmOf, writeCommit, writeObject, writeTree } from './object-writer.js';
export { closeRefWriters, moveRefs, type RefMove, type RefMoveResult } from './ref-writer.js';
export { rememberForkPoint, type RefTip } from './ticket-refs.js';
export { dropUnjudged, runCommitsOnTop } from './unjudged-commits.js';
export { readUntrustedFile, type UntrustedRead } from './untrusted-file.js';
export { changedPaths, type ChangeStatus, type ChangedPath } from './changes.js';
export { checkGlob, globToRegExp, matchesGlob } from './glob.js';
export {
  gateResult,
  type GateResult,
  type ScopeGateResult,
  type Violation,
  type ViolationWhy,
} from './gate-result.js';
export { leadEncroachmentGate } from './lead-encroachment-gate.js';
export { scopeGate, scopeViolations } from './scope-gate.js';
export { testFilesGate } from './test-files-gate.js';
export {
  checkOutsideWrites,
  outsideWriteProbe,
  type OutsideSnapshot,
  type OutsideWriteProbe,
  type OutsideWriteProbeOptions,
} from './outside-write-probe.js';
export {
  CommandStartError,
  GATE_ENV_ALLOWLIST,
  defaultGateEnv,
  runCommandGate,
  type CommandGateOptions,
  type CommandGateResult,
} from './command-gate.js';
export {
  advanceRef,
  buildMergeCommit,
  isMergedInto,
  mergeToBase,
  type MergeCheck,
  type MergeResult,
  type MergeToBaseOptions,
} from './merge.js';
export { createSampleRepo, type SampleRepo } from './sample-repo.js';
export {
  SCRATCH_DIR_PREFIX,
  ScratchCheckoutError,
  scratchRoot,
  sweepScratchCheckouts,
  withScratchCheckout,
  type ScratchCheckoutOptions,
} from './scratch-checkout.js';
