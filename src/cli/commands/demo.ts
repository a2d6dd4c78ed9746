/**
 * `loopwright demo`: the whole factory on a sample repository with scripted agents, no API key.
 */
import { resolveHome } from '../../config/home.js';
import { redactUrl } from '../../db/connection.js';
import { DEFAULT_CONSOLE_PORT } from '../../console/server.js';
import { runDemo } from '../../demo/run-demo.js';
import { logger } from '../../log/logger.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { printJson, printLine } from '../output.js';

export const command: Command = {
  name: 'demo',
  summary: 'run three tickets through the whole lifecycle on a sample repo (scripted agents)',
  usage: `usage: loopwright demo [--json]

Creates a small Node project under LOOPWRIGHT_HOME/demo, registers it with scripted agents
(built in, no API key), files three tickets — one plain, one that depends on it and revises its
plan once, one whose first build the validator rejects — and runs the factory until idle.
The database and the repository stay for you to explore.`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {});
    expectPositionals(positionals, []);
    const handle = await ctx.handle();
    if (!values.json)
      printLine(
        ctx.io,
        `loopwright demo: database ${redactUrl(handle.target.url)} (${handle.target.source})`,
      );
    const result = await runDemo(handle, resolveHome(ctx.io.env), logger(), ctx.actor());
    if (values.json) {
      printJson(ctx.io, result);
    } else {
      printLine(
        ctx.io,
        `repository ${result.repo} at ${result.repoPath} — finished ` +
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
