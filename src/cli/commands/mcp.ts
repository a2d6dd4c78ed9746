/**
 * `loopwright mcp`: serve the factory to one orchestrator session over stdio (Model Context
 * Protocol), and `loopwright mcp install` to register that server with Claude Code or Codex.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { resolveHome } from '../../config/home.js';
import { BadInputError } from '../../errors.js';
import { install, printSnippet, type Client, type Scope } from '../../mcp/install.js';
import { createMcpServer } from '../../mcp/server.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { CliContext, Command } from '../command.js';
import { printJson, printLine } from '../output.js';

async function serve(args: readonly string[], ctx: CliContext): Promise<number> {
  const { positionals } = parseCommandArgs(args, {});
  expectPositionals(positionals, []);
  const server = createMcpServer({ db: ctx.db, home: resolveHome(ctx.io.env), env: ctx.io.env });
  const transport = new StdioServerTransport(process.stdin, process.stdout);
  const closed = new Promise<void>((resolve) => {
    server.onclose = resolve;
  });
  // The transport does not notice the client going away by itself: end of stdin or a signal ends
  // the session, and `main` then closes the database.
  const stop = () => void server.close();
  process.stdin.once('end', stop);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await server.connect(transport);
  await closed;
  process.stdin.off('end', stop);
  process.off('SIGTERM', stop);
  process.off('SIGINT', stop);
  return 0;
}

async function installCommand(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    client: { type: 'string' },
    scope: { type: 'string' },
    print: { type: 'boolean' },
  });
  expectPositionals(positionals, []);
  const client = values.client?.trim();
  if (client !== 'claude' && client !== 'codex')
    throw new BadInputError('mcp install needs --client claude or --client codex');
  const scope = (values.scope?.trim() ?? 'user') as Scope;
  if (scope !== 'user' && scope !== 'project')
    throw new BadInputError(`--scope must be user or project, got ${values.scope}`);
  if (values.print) {
    if (values.scope !== undefined)
      throw new BadInputError('--print prints the snippet only; --scope applies when installing');
    ctx.io.stdout(printSnippet(client as Client, ctx.io.env));
    return 0;
  }
  const result = await install({ client, scope, env: ctx.io.env, cwd: ctx.io.cwd });
  if (values.json) printJson(ctx.io, { schemaVersion: 1, ...result });
  else
    printLine(
      ctx.io,
      `${result.replaced ? 'updated' : 'added'} MCP server loopwright in ${result.file}`,
    );
  return 0;
}

export const command: Command = {
  name: 'mcp',
  summary: 'serve the factory to a Claude Code or Codex session (MCP, stdio); mcp install',
  usage: `usage:
  loopwright mcp
  loopwright mcp install --client claude|codex [--scope user|project] [--json]
  loopwright mcp install --client claude|codex --print

loopwright mcp speaks the Model Context Protocol on stdin/stdout (a client starts it). Tools:
  board, status, show_ticket, logs, file_tickets, approve, retry, reject, cancel, replay, oracle;
  resources loopwright://ticket/<key>/plan and .../timeline. Operator actions are journaled as
  operator:mcp:<client name>.
mcp install adds the server to the client's configuration (replacing an earlier entry):
  claude  --scope user (default): ~/.claude.json (or $CLAUDE_CONFIG_DIR/.claude.json);
          --scope project: ./.mcp.json
  codex   ~/.codex/config.toml (or $CODEX_HOME/config.toml), [mcp_servers.loopwright]
  --print  write the snippet to stdout instead: JSON for claude (a file for --mcp-config or
           .mcp.json), TOML for codex. The entry runs this installation's bin/loopwright.js with
           this node; LOOPWRIGHT_HOME and the database URL variable in use are passed by
           reference to the client's environment, never copied.`,
  async run(args, ctx) {
    if (args[0] === 'install') return installCommand(args.slice(1), ctx);
    return serve(args, ctx);
  },
};
