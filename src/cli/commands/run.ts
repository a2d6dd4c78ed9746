/**
 * `loopwright run`: start the factory in this process until SIGINT/SIGTERM, or until no ticket
 * can move (`--until-idle`).
 */
import { assertSandboxReady, passwordlessDatabaseWarning } from '../../agents/sandbox/index.js';
import { preflightAgents } from '../../agents/preflight.js';
import { resolveHome } from '../../config/home.js';
import { repoSettingsSchema } from '../../config/repo-settings.js';
import { parseHost, serveConsole } from '../../console/serve-console.js';
import { DEFAULT_CONSOLE_PORT } from '../../console/server.js';
import {
  backoffMs,
  DatabaseAvailability,
  isTransientDbError,
  pause,
} from '../../db/availability.js';
import { type Db, openDatabase } from '../../db/connection.js';
import { listRepositories } from '../../db/repositories.js';
import type { Logger } from 'pino';
import { logger } from '../../log/logger.js';
import { applyLogging, chooseLogging, LOG_FLAGS, type LogChoice } from '../../log/log-options.js';
import { type Factory, startFactory } from '../../worker/factory.js';
import {
  activeTickets,
  followProgress,
  formatMove,
  frame,
  logMove,
  progressStart,
  renderProgress,
} from '../../worker/progress.js';
import { expectPositionals, parseCommandArgs, parseInteger } from '../args.js';
import type { CliContext, Command } from '../command.js';
import type { JournalMove } from '../../db/run-summary.js';
import { operatorName } from '../context.js';
import { printError, printJson, printLine } from '../output.js';
import { loadRunSummary, printRunSummary, RUN_EXIT } from '../run-summary.js';
import { BadInputError } from '../../errors.js';
import { LANES, type Lane } from '../../integrations/jobs.js';
import { dropSecrets, secretsPresent } from '../../integrations/credentials.js';
import { reexecWithoutSecrets } from '../../integrations/lane-exec.js';

export const command: Command = {
  name: 'run',
  summary: 'run the factory: execute queued work with disposable agents',
  usage: `usage: loopwright run [--concurrency N] [--max-active N] [--until-idle]
                      [--console-port N] [--console-host H] [--no-console]
                      [--lanes all|agents|integrations] [--webhook-port N]
                      [--log-level L] [--log-format pretty|json] [--json]

Starts a worker pool on the database in use: agent runs, gates, merges and live checks as
tickets need them. Several \`loopwright run\` processes may share one database.
  --concurrency N   jobs (agents) this process runs at once (default 2)
  --max-active N    tickets holding a slot across the factory (default: concurrency)
  --until-idle      stop once no ticket can move (all final, escalated, dead-lettered,
                    or waiting for a human)
When it stops it prints a summary: LIVE tickets, and every ticket waiting for a person with the
exact command to act (loopwright approve app-3, retry, ...). Exit codes: 0 nothing needs a
person; 4 some ticket waits for a person (escalated, dead-lettered, awaiting approval); 130
after SIGINT, 143 after SIGTERM. Without a terminal it prints one line per phase change:
  23:00:31 demo-1 PLAN_DRAFT -> PLAN_NEGOTIATE.critique (PLAN_READY, lead scripted, run 7c928f3d)
(with --log-format json or --json: a "Ticket moved" JSON log record on stderr instead; with
--log-format json start-up warnings are JSON records too, so stderr is JSON lines only).
  --log-level L     trace, debug, info, warn, error, fatal or silent (default info; warn on a
                    terminal, where progress is redrawn in place); env LOOPWRIGHT_LOG_LEVEL
  --log-format F    pretty (one readable line per record; default on a terminal) or json
                    (default otherwise); env LOOPWRIGHT_LOG_FORMAT. Logs go to stderr; every
                    line about a ticket carries its key, run id and repo
  --console-port N  serve the web console on this port \
(default ${DEFAULT_CONSOLE_PORT}; 0: any free port)
  --console-host H  bind the console here (default 127.0.0.1; elsewhere a token is required)
  --no-console      do not serve the console (a port already in use only skips it, with a warning)
  --lanes L         which work this process takes: all (default), agents (agent runs, gates,
                    local merges; starts without any token — GITHUB_TOKEN, LINEAR_API_KEY, webhook
                    secrets and their _FILE forms are removed from its environment), or
                    integrations (GitHub PRs, Linear sync, webhooks, notifications)
  --webhook-port N  receive GitHub/Linear webhooks on this port (off by default; needs
                    GITHUB_WEBHOOK_SECRET / LINEAR_WEBHOOK_SECRET; not with --lanes agents)
SIGINT/SIGTERM stop gracefully: running agents are killed and their work is retried later.
The database may restart or go away for minutes: \`run\` logs "Database unavailable, retrying"
once, waits, logs "Database available again" and carries on; agents that were running report
when it is back. It exits on its own only for a configuration error (wrong password, no such
database).
Agents and gate commands run under bubblewrap unless a repo chose "sandbox": "none"; when bwrap
does not work here, run refuses to start and names the repos and the fix.`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      concurrency: { type: 'string' },
      'max-active': { type: 'string' },
      'until-idle': { type: 'boolean' },
      'console-port': { type: 'string' },
      'console-host': { type: 'string' },
      'no-console': { type: 'boolean' },
      lanes: { type: 'string' },
      'webhook-port': { type: 'string' },
      ...LOG_FLAGS,
    });
    expectPositionals(positionals, []);
    const lanes = (values.lanes ?? 'all') as Lane;
    if (!(LANES as readonly string[]).includes(lanes))
      throw new BadInputError(`--lanes must be all, agents or integrations, got "${values.lanes}"`);
    const webhookPort = parseInteger('--webhook-port', values['webhook-port'], {
      min: 0,
      max: 65535,
    });
    if (webhookPort !== undefined && lanes === 'agents')
      throw new BadInputError('--webhook-port needs the integrations lane (not --lanes agents)');
    if (lanes === 'agents' && ctx.attached && secretsPresent(process.env).length > 0)
      return reexecWithoutSecrets();
    if (lanes === 'agents') {
      dropSecrets(process.env);
      dropSecrets(ctx.io.env);
    }
    const concurrency = parseInteger('--concurrency', values.concurrency, { min: 1, max: 64 }) ?? 2;
    const maxActive =
      parseInteger('--max-active', values['max-active'], { min: 1, max: 10_000 }) ?? concurrency;
    const consolePort = parseInteger('--console-port', values['console-port'], {
      min: 0,
      max: 65535,
    });
    const consoleHost = parseHost(values['console-host']);
    const tty = ctx.attached && process.stdout.isTTY === true && !values.json;
    const logging = chooseLogging(values, ctx.io.env, tty ? 'warn' : 'info');
    applyLogging(logging);
    const waiting = new AbortController();
    const onEarlySignal = () => waiting.abort();
    process.once('SIGINT', onEarlySignal);
    process.once('SIGTERM', onEarlySignal);
    const availability = new DatabaseAvailability(logger());
    let handle: Db | undefined;
    let factory!: Factory;
    let progressFrom = '0';
    try {
      // A connection lost during start-up (a restart, terminated backends) is an outage like
      // any other: start again once the database is back. Only a real error ends the process.
      for (let attempt = 0; ; attempt++) {
        try {
          // Its own pool, patient with outages (the context's fails fast, as other commands want).
          handle = await openDatabase({
            env: ctx.io.env,
            max: concurrency + 6,
            patience: { availability, signal: waiting.signal },
          });
          await checkSandbox(handle, ctx, jsonLogs(logging) ? logger() : null);
          progressFrom = await progressStart(handle.db);
          factory = await startFactory({
            handle,
            availability,
            stopWaiting: () => waiting.abort(),
            home: resolveHome(ctx.io.env),
            concurrency,
            maxActive,
            untilIdle: values['until-idle'] === true,
            logger: logger(),
            lanes,
            ...(webhookPort === undefined ? {} : { webhookPort }),
          });
          break;
        } catch (error) {
          await handle?.close().catch(() => {});
          handle = undefined;
          if (waiting.signal.aborted || !isTransientDbError(error)) throw error;
          availability.down(error);
          await pause(backoffMs(attempt), waiting.signal);
        }
      }
    } finally {
      process.off('SIGINT', onEarlySignal);
      process.off('SIGTERM', onEarlySignal);
    }
    const served =
      values['no-console'] === true
        ? null
        : await serveConsole({
            handle,
            home: resolveHome(ctx.io.env),
            host: consoleHost,
            port: consolePort,
            operator: operatorName(ctx.io.env),
            env: ctx.io.env,
            logger: logger(),
            // With --json stdout is the answer alone; the console's address goes to stderr.
            print: (line) => (values.json ? ctx.io.stderr(`${line}\n`) : printLine(ctx.io, line)),
            printError: (line) => printError(ctx.io, line),
          });
    let signalled: NodeJS.Signals | null = null;
    const onSignal = (signal: NodeJS.Signals) => {
      signalled ??= signal;
      void factory.stop();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const stopProgress = tty ? showProgress(ctx) : () => {};
    const stopLines = tty
      ? null
      : followProgress(
          handle.db,
          progressSink(ctx, logging, values.json),
          progressFrom,
          500,
          factory.onChange,
        );
    try {
      const why = await factory.done;
      stopProgress();
      await stopLines?.();
      const summary = await loadRunSummary(handle.db);
      if (values.json)
        printJson(ctx.io, {
          pool: factory.poolId,
          stopped: signalled ? signalled : why,
          console: served?.url ?? null,
          summary,
          webhooks: factory.webhookUrl,
        });
      else {
        printLine(
          ctx.io,
          why === 'idle'
            ? 'idle: no ticket can move'
            : `stopped${signalled ? ` (${signalled})` : ''}`,
        );
        printRunSummary(ctx.io, summary);
      }
      if (signalled) return signalled === 'SIGINT' ? RUN_EXIT.SIGINT : RUN_EXIT.SIGTERM;
      return summary.needsPerson ? RUN_EXIT.NEEDS_PERSON : 0;
    } finally {
      await served?.close().catch(() => {});
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await handle.close().catch(() => {});
    }
  },
};

/**
 * Before anything is dispatched: refuse when a repository needs bwrap and it does not work here
 * (one line naming the repositories and the fix), and warn once when the database lets anyone in
 * without a password (sandboxed agents keep the network).
 */
async function checkSandbox(handle: Db, ctx: CliContext, log: Logger | null): Promise<void> {
  const repos = await listRepositories(handle.db);
  await assertSandboxReady(repos);
  // Preflight: an agent that cannot start or has no credentials is named now, with its fix;
  // its tickets still run and escalate AGENT_UNAVAILABLE with the same sentence.
  for (const repo of repos) {
    const settings = repoSettingsSchema.safeParse(repo.settings ?? {});
    if (!settings.success) continue;
    for (const problem of await preflightAgents(settings.data, {
      env: ctx.io.env,
      skipVersion: true,
    }))
      if (log) log.warn({ repo: repo.name, problem: problem.message }, 'Agent preflight failed');
      else ctx.io.stderr(`loopwright: warning: repo ${repo.name}: ${problem.message}\n`);
  }
  const url = ctx.io.env.LOOPWRIGHT_DATABASE_URL || ctx.io.env.DATABASE_URL;
  const warning = url ? await passwordlessDatabaseWarning(url) : undefined;
  if (warning && log) log.warn({ problem: warning }, 'Database lets anyone in without a password');
  else if (warning) ctx.io.stderr(`loopwright: ${warning}\n`);
}

/** Logs asked to be JSON: then stderr is JSON lines only (warnings become records too). */
const jsonLogs = (logging: LogChoice) => logging.formatChosen && logging.format === 'json';

function showProgress(ctx: CliContext): () => void {
  let previous = 0;
  const draw = async () => {
    const lines = renderProgress(await activeTickets(await ctx.db()));
    ctx.io.stdout(frame(lines, previous));
    previous = lines.length;
  };
  const timer = setInterval(() => void draw().catch(() => {}), 1000);
  return () => clearInterval(timer);
}

/**
 * Without a terminal, one line per phase change on stdout; as a log record on stderr instead
 * when logs were asked to be JSON or stdout is the `--json` answer.
 */
export function progressSink(
  ctx: CliContext,
  logging: LogChoice,
  json: boolean | undefined,
): (move: JournalMove) => void {
  if (json || jsonLogs(logging)) return (move) => logMove(logger(), move);
  return (move) => printLine(ctx.io, formatMove(move));
}
