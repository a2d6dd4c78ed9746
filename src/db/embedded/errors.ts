/** Every way the embedded Postgres server can fail, as a stable machine-readable code. */
export type EmbeddedPostgresErrorCode =
  | 'PG_BINARIES_MISSING'
  | 'PG_OS_USER_FAILED'
  | 'PG_DATA_DIR_INACCESSIBLE'
  | 'PG_CONFIG_INVALID'
  | 'PG_CONFIG_MISSING'
  | 'PG_VERSION_MISMATCH'
  | 'PG_INIT_FAILED'
  | 'PG_START_FAILED'
  | 'PG_STOP_FAILED'
  | 'PG_HBA_RELOAD_FAILED'
  | 'PG_DATABASE_FAILED'
  | 'PG_LOCK_TIMEOUT';

/**
 * The one error class thrown by the embedded server module. Messages are written for the person
 * at the terminal: they say what failed, where, and (for start failures) end with the tail of the
 * server log.
 *
 * @example
 * try { await ensureEmbeddedServer(home); }
 * catch (err) { if (err instanceof EmbeddedPostgresError && err.code === 'PG_START_FAILED') ... }
 */
export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';
  readonly code: EmbeddedPostgresErrorCode;

  constructor(code: EmbeddedPostgresErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
