/**
 * The error vocabulary. Every error loopwright raises on purpose is one of these, with a stable
 * `code`; driver errors are mapped once at the db boundary (src/db/errors.ts). The CLI turns
 * {@link BadInputError} and its kin into one line on stderr and exit code 2.
 */

/** Base class: a stable machine-readable `code` plus a human message. */
export class LoopwrightError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The caller asked for something malformed or impossible; nothing was changed. Exit 2. */
export class BadInputError extends LoopwrightError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'BAD_INPUT', message, options);
  }
}

/** A named thing (ticket, repo, batch, row) does not exist. Exit 2. */
export class NotFoundError extends BadInputError {
  constructor(what: string, name: string) {
    super(`unknown ${what}: ${name}`, { code: 'NOT_FOUND' });
  }
}

/** Adding a dependency would close a cycle. Exit 2. */
export class DependencyCycleError extends BadInputError {
  constructor(readonly cycle: readonly string[]) {
    super(`dependency cycle: ${cycle.join(' -> ')}`, { code: 'DEPENDENCY_CYCLE' });
  }
}

/** The database refused a write that would break an invariant it enforces. */
export class ImmutableRowError extends LoopwrightError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IMMUTABLE', message, options);
  }
}

/** The database could not be reached or started. */
export class DatabaseUnavailableError extends LoopwrightError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DB_UNAVAILABLE', message, options);
  }
}

/** A stored migration differs from the file that claims to be it, or the schema is too new. */
export class MigrationError extends LoopwrightError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MIGRATION', message, options);
  }
}

/** True for errors that mean "the caller's input was wrong" (exit code 2). */
export function isBadInput(error: unknown): error is BadInputError {
  return error instanceof BadInputError;
}
