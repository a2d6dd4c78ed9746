/**
 * Synchronous `lstat` for walks over a workspace or checkout: thousands of files, where a
 * thread-pool hop per call costs more than the call itself. Walks yield to the event loop every
 * {@link STAT_SLICE} files so that a large tree never holds up the rest of the process for long.
 */
import { type BigIntStats, lstatSync } from 'node:fs';

/** Files looked at between two turns of the event loop. */
export const STAT_SLICE = 256;

/**
 * The path's own status (never followed, `bigint` times to the nanosecond), or null when it is
 * missing or cannot be read.
 *
 * @example
 * ```ts
 * const info = statOrNull(path.join(root, rel));
 * if (info?.isFile()) ...
 * ```
 */
export function statOrNull(full: string): BigIntStats | null {
  try {
    return lstatSync(full, { bigint: true, throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}
