/**
 * `loopwright run`: start the factory in this process until SIGINT/SIGTERM, or until no ticket
 * can move (`--until-idle`).
 */
import { resolveHome } from '../../config/home.js';
import { logger, setLogLevel } from '../../log/logger.js';
import { startFactory } from '../../worker/factory.js';
import { activeTickets, frame, renderProgress } from '../../worker/progress.js';
import { expectPositionals, parseCommandArgs, parseInteger } from '../args.js';
import type { CliContext, Command } from '../command.js';
import { printJson, printLine } from '../output.js';

export const command: Command = {
  name: 'run',
  summary: 'run the factory: execute queued work with disposable agents',
  usage: `usage: loopwright run [--concurrency N] [--max-active N] [--until-idle] [--json]

Starts a worker pool on the database in use: agent runs, gates, merges and live checks as
tickets need them. Several \`loopwright run\` processes may share one database.
  --concurrency N   jobs (agents) this process runs at once (default 2)
  --max-active N    tickets holding a slot across the factory (default: concurrency)
  --until-idle      exit 0 once no ticket can move (all final, escalated, dead-lettered,
                    or waiting for a human)
SIGINT/SIGTERM stop gracefully: running agents are killed and their work is retried later.`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      concurrency: { type: 'string' },
      'max-active': { type: 'string' },
      'until-idle': { type: 'boolean' },
    });
    expectPositionals(positionals, []);
    const concurrency = parseInteger('--concurrency', values.concurrency, { min: 1, max: 64 }) ?? 2;
    const maxActive =
      parseInteger('--max-active', values['max-active'], { min: 1, max: 10_000 }) ?? concurrency;
    const tty = ctx.attached && process.stdout.isTTY === true && !values.json;
    if (!tty && !ctx.io.env.LOOPWRIGHT_LOG_LEVEL) setLogLevel('info');
    const handle = await ctx.handle();
    const factory = await startFactory({
      handle,
      home: resolveHome(ctx.io.env),
      concurrency,
      maxActive,
      untilIdle: values['until-idle'] === true,
      logger: logger(),
    });
    const onSignal = () => void factory.stop();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const stopProgress = tty ? showProgress(ctx) : () => {};
    try {
      const why = await factory.done;
      stopProgress();
      if (values.json) printJson(ctx.io, { pool: factory.poolId, stopped: why });
      else printLine(ctx.io, why === 'idle' ? 'idle: no ticket can move' : 'stopped');
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

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
