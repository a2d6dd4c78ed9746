/**
 * `loopwright console`: the operator console on its own (the board, tickets, what needs a person,
 * batches), live from the database, until SIGINT/SIGTERM.
 */
import { resolveHome } from '../../config/home.js';
import { logger } from '../../log/logger.js';
import { parseHost, serveConsole } from '../../console/serve-console.js';
import { DEFAULT_CONSOLE_PORT } from '../../console/server.js';
import { expectPositionals, parseCommandArgs, parseInteger } from '../args.js';
import type { Command } from '../command.js';
import { operatorName } from '../context.js';
import { printError, printLine } from '../output.js';

export const command: Command = {
  name: 'console',
  summary: 'serve the live web console (board, tickets, needs-a-person, batches)',
  usage: `usage: loopwright console [--port N] [--host H]

Serves the operator console on http://127.0.0.1:${DEFAULT_CONSOLE_PORT}/ (loopback only) \
until Ctrl-C.
  --port N   port (default ${DEFAULT_CONSOLE_PORT}; 0 picks a free one)
  --host H   address to bind; anything but loopback requires a token: the one in
             LOOPWRIGHT_CONSOLE_TOKEN, else a fresh one printed once in the URL
Buttons (approve, retry, reject, cancel, replay) are journaled as operator:console:<name>.
\`loopwright run\` serves the same console (see --console-port, --no-console).`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      port: { type: 'string' },
      host: { type: 'string' },
    });
    expectPositionals(positionals, []);
    const port = parseInteger('--port', values.port, { min: 0, max: 65535 });
    const host = parseHost(values.host);
    const handle = await ctx.handle();
    const served = await serveConsole({
      handle,
      home: resolveHome(ctx.io.env),
      host,
      port,
      operator: operatorName(ctx.io.env),
      env: ctx.io.env,
      logger: logger(),
      print: (line) => printLine(ctx.io, line),
      printError: (line) => printError(ctx.io, line),
    });
    if (!served) return 1;
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await served.close();
    return 0;
  },
};
