/**
 * Workspace errors that are not a git command failing (those are `GitError`, src/workspace/git.ts):
 * a worktree path occupied by something else, a worktree an agent moved off its branch.
 */
import { LoopwrightError } from '../errors.js';

/** The workspace is in a state loopwright will not repair on its own; a human should look. */
export class WorkspaceError extends LoopwrightError {
  constructor(
    code: 'WORKTREE_PATH_OCCUPIED' | 'WORKTREE_INVALID' | 'NOT_A_REPOSITORY',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
