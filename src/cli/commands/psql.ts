/**
 * `loopwright psql [-c SQL]`: the real psql on whichever database loopwright uses, with the
 * `loopwright` schema first on the search path so `select * from v_board` just works.
 * Credentials travel in PG* environment variables, never on the command line.
 */
import { spawn } from 'node:child_process';
import { BadInputError, LoopwrightError } from '../../errors.js';
import { parseCommandArgs } from '../args.js';
import type { CliContext, Command } from '../command.js';

/** libpq environment for a postgres:// URL (what psql reads instead of arguments). */
export function libpqEnv(url: string): Record<string, string> {
  const parsed = new URL(url);
  const env: Record<string, string> = { PGOPTIONS: '-c search_path=loopwright,public' };
  const host = parsed.searchParams.get('host') ?? parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host) env.PGHOST = host;
  if (parsed.port) env.PGPORT = parsed.port;
  if (parsed.username) env.PGUSER = decodeURIComponent(parsed.username);
  if (parsed.password) env.PGPASSWORD = decodeURIComponent(parsed.password);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database) env.PGDATABASE = database;
  const sslmode = parsed.searchParams.get('sslmode');
  if (sslmode) env.PGSSLMODE = sslmode;
  return env;
}

/** Arguments after `--` go to psql untouched; anything else positional is a mistake. */
function passThrough(
  tokens: readonly { kind: string; index: number }[],
  positionals: readonly string[],
  args: readonly string[],
): string[] {
  const terminator = tokens.find((t) => t.kind === 'option-terminator');
  const after = terminator ? args.slice(terminator.index + 1) : [];
  if (positionals.length > after.length)
    throw new BadInputError(`unexpected argument: ${positionals[0]} (pass psql options after --)`);
  return after;
}

/** Run psql; resolves with its exit code. Piped output is forwarded to io when not attached. */
function runPsql(
  ctx: CliContext,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const inherit = ctx.attached;
  return new Promise((resolve, reject) => {
    const child = spawn('psql', args, {
      env,
      cwd: ctx.io.cwd,
      stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    });
    // Ctrl-C belongs to psql (it cancels the running query); loopwright must not die under it.
    const ignore = () => {};
    if (inherit) process.on('SIGINT', ignore);
    child.stdout?.setEncoding('utf8').on('data', (s: string) => ctx.io.stdout(s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => ctx.io.stderr(s));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (inherit) process.off('SIGINT', ignore);
      if (error.code === 'ENOENT')
        reject(
          new LoopwrightError(
            'PSQL_MISSING',
            'psql not found on PATH; install the PostgreSQL client (e.g. apt install ' +
              'postgresql-client)',
          ),
        );
      else reject(error);
    });
    child.on('close', (code, signal) => {
      if (inherit) process.off('SIGINT', ignore);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

export const command: Command = {
  name: 'psql',
  summary: 'open psql on the database in use',
  usage: `usage: loopwright psql [-c SQL]... [-- PSQL_ARGS...]

Starts psql on the database loopwright uses (migrated first), with search_path
loopwright,public, so the documented views answer directly:
  loopwright psql -c 'select * from v_board'
  loopwright psql -c 'select * from v_stuck'
Credentials are passed in PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE, never as arguments.
Exits 1 when psql fails. (--json is accepted but psql prints its own format; try -- -A -t.)`,
  async run(args, ctx) {
    const { values, positionals, tokens } = parseCommandArgs(args, {
      command: { type: 'string', short: 'c', multiple: true },
    });
    const extra = passThrough(tokens, positionals, args);
    const commands = values.command ?? [];
    const { target } = await ctx.handle();
    const psqlArgs = [
      ...(commands.length ? ['-X', '-v', 'ON_ERROR_STOP=1'] : []),
      ...commands.flatMap((c) => ['-c', c]),
      ...extra,
    ];
    const code = await runPsql(ctx, psqlArgs, { ...ctx.io.env, ...libpqEnv(target.url) });
    return code === 0 ? 0 : 1;
  },
};
