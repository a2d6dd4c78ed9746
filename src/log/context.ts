/**
 * Who a log line is about. A job that works on one ticket runs inside
 * {@link withLogBindings}; every line logged meanwhile — through `deps.logger`, a child of it, or
 * the process-wide `logger()` — carries the ticket's key, the run id and the repository's name
 * (the root logger's `mixin` reads them back). graphile-worker logs a job's end outside that
 * context, so its lines find the same bindings by job id ({@link bindingsOfJob}).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The fields every line about a ticket carries. */
export interface LogBindings {
  /** The ticket's key (`app-12`), never its internal id. */
  readonly ticket: string;
  /** The repository's registered name. */
  readonly repo: string;
  /** The run the work belongs to; null for ticket work that is not a run (workspace release). */
  readonly run: string | null;
}

const storage = new AsyncLocalStorage<LogBindings>();

/** Jobs started and not yet logged as ended by graphile-worker (bounded, oldest dropped). */
const byJob = new Map<string, LogBindings>();
const MAX_JOBS = 1000;

/**
 * Run `fn` with `bindings` on every log line it causes.
 *
 * @example
 * ```ts
 * await withLogBindings({ ticket: 'app-3', repo: 'app', run: runId }, () => runAgentJob(deps, p));
 * ```
 */
export function withLogBindings<T>(bindings: LogBindings, fn: () => T): T {
  return storage.run(bindings, fn);
}

/** The bindings of the current job, or undefined outside ticket work. */
export function currentLogBindings(): LogBindings | undefined {
  return storage.getStore();
}

/** Remember a job's bindings until graphile-worker logs its end. */
export function rememberJob(jobId: string, bindings: LogBindings): void {
  byJob.delete(jobId);
  byJob.set(jobId, bindings);
  if (byJob.size > MAX_JOBS) byJob.delete(byJob.keys().next().value!);
}

/** A running job's bindings; `forget` drops them (the job's last line). */
export function bindingsOfJob(jobId: string, forget = false): LogBindings | undefined {
  const found = byJob.get(jobId);
  if (forget) byJob.delete(jobId);
  return found;
}
