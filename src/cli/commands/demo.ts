/**
 * `loopwright demo`: the whole factory on a sample repository with scripted agents, no API key.
 */
import { resolveHome } from '../../config/home.js';
import { redactUrl } from '../../db/connection.js';
import { DEFAULT_CONSOLE_PORT } from '../../console/server.js';
import { runDemo } from '../../demo/run-demo.js';
import type { JournalMove } from '../../db/run-summary.js';
import { applyLogging, chooseLogging, LOG_FLAGS } from '../../log/log-options.js';
import { logger } from '../../log/logger.js';
import { formatMove, logMove } from '../../worker/progress.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { printJson, printLine } from '../output.js';

export const command: Command = {
  name: 'demo',
  summary: 'run three tickets through the whole lifecycle on a sample repo (scripted agents)',
  usage: `usage: loopwright demo [--log-level L] [--log-format pretty|json] [--json]

Creates a small Node project under LOOPWRIGHT_HOME/demo, registers it with scripted agents
(built in, no API key), files three tickets — one plain, one that depends on it and revises its
plan once, one whose first build the validator rejects — and runs the factory until idle.
It prints a line per phase change while it runs (with --json: "Ticket moved" log records on
stderr, shown with --log-level info). When bubblewrap does not work here the demo's scripted
agents (loopwright's own code) run unsandboxed, and it says so. --log-level and --log-format
work as for \`loopwright run\`. The database and the repository stay for you to explore.`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, { ...LOG_FLAGS });
    expectPositionals(positionals, []);
    applyLogging(chooseLogging(values, ctx.io.env, 'warn'));
    const handle = await ctx.handle();
    if (!values.json)
      printLine(
        ctx.io,
        `loopwright demo: database ${redactUrl(handle.target.url)} (${handle.target.source})`,
      );
    const onMove = values.json
      ? (move: JournalMove) => logMove(logger(), move)
      : (move: JournalMove) => printLine(ctx.io, formatMove(move));
    const result = await runDemo(handle, resolveHome(ctx.io.env), logger(), ctx.actor(), {
      onMove,
    });
    if (values.json) {
      printJson(ctx.io, result);
    } else {
      if (result.sandboxNote)
        printLine(
          ctx.io,
          `sandbox: none (${result.sandboxNote}; the scripted agents ran unsandboxed)`,
        );
      printLine(
        ctx.io,
        `\nrepository ${result.repo} at ${result.repoPath} — finished ` +
          `in ${result.seconds.toFixed(1)} s\n`,
      );
      for (const t of result.tickets) {
        printLine(ctx.io, `${t.key}  ${t.state.padEnd(10)} ${t.title}`);
        printLine(ctx.io, `  path:   ${t.path.join(' -> ')}`);
        printLine(
          ctx.io,
          `  agents: ${t.agentRuns} ` +
            `runs${t.mergeCommit ? `   merged: ${t.mergeCommit.slice(0, 10)}` : ''}`,
        );
      }
      const first = result.tickets[0]?.key ?? 'demo-1';
      printLine(
        ctx.io,
        `\nnext:
  loopwright show ${first}                       # timeline, runs, gate results
  loopwright psql -c "select * from v_timeline where ticket = '${first}'"
  loopwright psql -c "select * from v_board"
  git -C ${result.repoPath} log --oneline --graph   # the merges on main
  loopwright console                             # the live web console: \
http://127.0.0.1:${DEFAULT_CONSOLE_PORT}/`,
      );
    }
    return result.tickets.every((t) => t.state === 'LIVE') ? 0 : 1;
  },
};
