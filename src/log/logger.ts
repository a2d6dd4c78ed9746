/**
 * Structured logs (pino) on stderr, so stdout stays the CLI's answer. Fields first, constant
 * message: `logger.info({ state }, 'Event applied')`; lines logged while a job works on a ticket
 * carry its key, run and repo by themselves (context.ts). Secrets are redacted by path, before
 * a line is made pretty.
 */
import { Logger as WorkerLogger, type LogFunctionFactory } from 'graphile-worker';
import { pino, destination, type Logger } from 'pino';
import { bindingsOfJob, currentLogBindings } from './context.js';
import { prettyLine } from './pretty.js';

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'url',
  '*.url',
  'connectionString',
  '*.connectionString',
  'env.ANTHROPIC_API_KEY',
  'env.OPENAI_API_KEY',
  'env.GITHUB_TOKEN',
  'env.GH_TOKEN',
  'env.LINEAR_API_KEY',
  'env.DATABASE_URL',
  'env.LOOPWRIGHT_DATABASE_URL',
  'headers.authorization',
  'secret',
  '*.secret',
  'env.GITHUB_WEBHOOK_SECRET',
  'env.LINEAR_WEBHOOK_SECRET',
  'env.LOOPWRIGHT_NOTIFY_WEBHOOK_URL',
  'headers["x-hub-signature-256"]',
  'headers["linear-signature"]',
  '*.headers.authorization',
  'err.request.headers.authorization',
];

/** Log levels `--log-level` and LOOPWRIGHT_LOG_LEVEL accept. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `pretty`: one readable line per record (a terminal's default); `json`: pino's JSON lines. */
export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

let root: Logger | undefined;
let format: LogFormat = 'json';
const raw = destination({ fd: 2, sync: true });
const color = process.stderr.isTTY === true && !process.env.NO_COLOR;

/**
 * The process-wide logger, on stderr: level from LOOPWRIGHT_LOG_LEVEL (default warn for the
 * CLI), format from LOOPWRIGHT_LOG_FORMAT (default pretty on a terminal, JSON otherwise). A
 * value it does not know falls back to the default; `loopwright run` refuses it instead
 * (log-options.ts).
 */
export function logger(): Logger {
  if (root) return root;
  format = oneOf(LOG_FORMATS, process.env.LOOPWRIGHT_LOG_FORMAT) ?? defaultLogFormat();
  root = pino(
    {
      level: oneOf(LOG_LEVELS, process.env.LOOPWRIGHT_LOG_LEVEL) ?? 'warn',
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // The ticket, run and repo of the job this line is logged in (context.ts); a fresh object
      // each time, since pino merges the line's own fields into it.
      mixin: () => ({ ...currentLogBindings() }),
    },
    { write: (line: string) => raw.write(format === 'pretty' ? prettyLine(line, color) : line) },
  );
  return root;
}

/** Pretty on a terminal, JSON otherwise. */
export function defaultLogFormat(): LogFormat {
  return process.stderr.isTTY === true ? 'pretty' : 'json';
}

/** Change the level at run time (e.g. `loopwright run` wants info). */
export function setLogLevel(level: LogLevel): void {
  logger().level = level;
}

/** Change the format at run time; loggers made before keep working and follow. */
export function setLogFormat(next: LogFormat): void {
  logger();
  format = next;
}

function oneOf<T extends string>(allowed: readonly T[], value: string | undefined): T | undefined {
  return allowed.find((v) => v === value?.trim().toLowerCase());
}

/**
 * graphile-worker's logger interface, forwarding to pino. Its per-job lines ("Found task",
 * "Completed task") and start-up chatter are debug, not info; a job row is reduced to its id,
 * task and attempt (no payload dump), and a job about a ticket carries that ticket's key, run
 * and repo like every other line.
 */
export function createWorkerLogger(): WorkerLogger {
  const factory: LogFunctionFactory = (scope) => (level, message, meta) => {
    // `options` (the pool's options, start-up) is dropped: noise, and it holds the connection.
    const { job, duration, error, fatalError, success, failure, options, ...rest } = (meta ??
      {}) as Record<string, unknown>;
    const row = job as { id?: unknown; task_identifier?: unknown; attempts?: unknown } | undefined;
    const jobId = row?.id ?? scope.jobId;
    const ended = success === true || failure === true;
    const bound = jobId === undefined ? undefined : bindingsOfJob(String(jobId), ended);
    const fields = {
      ...bound,
      worker: scope.workerId,
      job: jobId,
      task: scope.taskIdentifier ?? row?.task_identifier,
      ...(row?.attempts === undefined ? {} : { attempt: row.attempts }),
      ...(typeof duration === 'number' ? { ms: Math.round(duration) } : {}),
      ...((error ?? fatalError) ? { err: error ?? fatalError } : {}),
      ...rest,
    };
    const pinoLevel = level === 'warning' ? 'warn' : level === 'error' ? 'error' : 'debug';
    // "Failed task ... with error 'x':\n  <stack>": the stack is in `err`, the message one line.
    logger()[pinoLevel](fields, message.split('\n')[0]!.replace(/:$/, ''));
  };
  return new WorkerLogger(factory);
}
