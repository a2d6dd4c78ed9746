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

/** A path a walk saw as a regular file was something else (a link, a FIFO) when it was read. */
export class FileSwappedError extends LoopwrightError {
  constructor(file: string) {
    super('FILE_SWAPPED', `${file} is no longer a regular file`);
  }
}
