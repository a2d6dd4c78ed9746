/**
 * Structured logs (pino) on stderr, so stdout stays the CLI's answer. Fields first, constant
 * message: `logger.info({ ticket, state }, 'Event applied')`. Secrets are redacted by path.
 */
import { Logger as WorkerLogger, type LogFunctionFactory } from 'graphile-worker';
import { pino, destination, type Logger } from 'pino';

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

let root: Logger | undefined;

/** The process-wide logger; level from LOOPWRIGHT_LOG_LEVEL (default warn for the CLI). */
export function logger(): Logger {
  root ??= pino(
    {
      level: process.env.LOOPWRIGHT_LOG_LEVEL ?? 'warn',
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination({ fd: 2, sync: true }),
  );
  return root;
}

/** Change the level at run time (e.g. `loopwright run` wants info). */
export function setLogLevel(level: string): void {
  logger().level = level;
}

/** graphile-worker's logger interface, forwarding to pino. */
export function createWorkerLogger(): WorkerLogger {
  const factory: LogFunctionFactory = (scope) => (level, message, meta) => {
    const child = logger().child({
      worker: scope.workerId,
      job: scope.jobId,
      task: scope.taskIdentifier,
    });
    const pinoLevel =
      level === 'warning'
        ? 'warn'
        : level === 'error'
          ? 'error'
          : level === 'debug'
            ? 'debug'
            : 'info';
    child[pinoLevel]({ ...(meta ?? {}) }, message);
  };
  return new WorkerLogger(factory);
}
