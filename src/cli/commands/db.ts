/**
 * `loopwright db start | stop | status | url`: the embedded Postgres under LOOPWRIGHT_HOME, or —
 * when LOOPWRIGHT_DATABASE_URL / DATABASE_URL is set — a report on that external database.
 */
import pg from 'pg';
import { resolveHome } from '../../config/home.js';
import { redactUrl, type DatabaseSource } from '../../db/connection.js';
import {
  embeddedServerStatus,
  ensureEmbeddedServer,
  stopEmbeddedServer,
  type EmbeddedStatus,
} from '../../db/embedded/index.js';
import { LoopwrightError } from '../../errors.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { CliContext, Command } from '../command.js';
import { printFields, printJson, printLine } from '../output.js';
import { dispatchSubcommand, type Subcommand } from '../subcommands.js';

interface External {
  readonly url: string;
  readonly source: Exclude<DatabaseSource, 'embedded'>;
}

/**
 * The external database configured in the environment, if any (same precedence as openDatabase).
 */
function externalDatabase(env: NodeJS.ProcessEnv): External | null {
  if (env.LOOPWRIGHT_DATABASE_URL)
    return { url: env.LOOPWRIGHT_DATABASE_URL, source: 'LOOPWRIGHT_DATABASE_URL' };
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, source: 'DATABASE_URL' };
  return null;
}

/** Connect once and ask the server its version, or say why it cannot be reached. */
async function probe(url: string): Promise<{ version: string } | { error: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    return { version: rows[0]?.server_version ?? 'unknown' };
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Parse a subcommand's flags (none but --json); returns whether --json was given. */
function jsonFlag(args: readonly string[]): boolean {
  const { values, positionals } = parseCommandArgs(args, {});
  expectPositionals(positionals, []);
  return values.json === true;
}

function nothingToDo(verb: 'start' | 'stop'): Subcommand {
  return async (args, ctx) => {
    const json = jsonFlag(args);
    const external = externalDatabase(ctx.io.env)!;
    const note =
      `nothing to ${verb}: loopwright uses the external database ` +
      `from ${external.source} (${redactUrl(external.url)})`;
    if (json)
      printJson(ctx.io, {
        source: external.source,
        url: redactUrl(external.url),
        action: 'none',
        note,
      });
    else printLine(ctx.io, note);
    return 0;
  };
}

async function externalStatus(args: readonly string[], ctx: CliContext): Promise<number> {
  const json = jsonFlag(args);
  const external = externalDatabase(ctx.io.env)!;
  const result = await probe(external.url);
  const reachable = 'version' in result;
  if (json) {
    printJson(ctx.io, {
      source: external.source,
      url: redactUrl(external.url),
      reachable,
      ...(reachable ? { server_version: result.version } : { error: result.error }),
    });
  } else {
    printFields(ctx.io, [
      ['database', redactUrl(external.url)],
      ['source', external.source],
      ['reachable', reachable ? `yes (PostgreSQL ${result.version})` : `no (${result.error})`],
    ]);
  }
  return reachable ? 0 : 1;
}

async function startEmbedded(args: readonly string[], ctx: CliContext): Promise<number> {
  const json = jsonFlag(args);
  const home = resolveHome(ctx.io.env);
  const { started } = await ensureEmbeddedServer(home);
  await ctx.handle(); // migrates, so `loopwright psql` and the views work right away
  const status = await embeddedServerStatus(home);
  if (json) printJson(ctx.io, { ...statusJson(status), started });
  else
    printLine(
      ctx.io,
      `${started ? 'started' : 'already running:'} embedded Postgres on port ${status.port} ` +
        `(data ${status.dataDir}, log ${status.logFile})`,
    );
  return 0;
}

async function stopEmbedded(args: readonly string[], ctx: CliContext): Promise<number> {
  const json = jsonFlag(args);
  const home = resolveHome(ctx.io.env);
  const { wasRunning } = await stopEmbeddedServer(home);
  if (json) printJson(ctx.io, { source: 'embedded', home, stopped: wasRunning });
  else
    printLine(
      ctx.io,
      wasRunning
        ? `stopped embedded Postgres under ${home}`
        : `embedded Postgres under ${home} was not running`,
    );
  return 0;
}

function statusJson(status: EmbeddedStatus) {
  return {
    source: 'embedded' as const,
    home: status.home,
    initialised: status.initialised,
    running: status.running,
    url: status.url ? redactUrl(status.url) : null,
    port: status.port ?? null,
    pid: status.pid ?? null,
    data_dir: status.dataDir ?? null,
    log_file: status.logFile ?? null,
  };
}

async function embeddedStatus(args: readonly string[], ctx: CliContext): Promise<number> {
  const json = jsonFlag(args);
  const status = await embeddedServerStatus(resolveHome(ctx.io.env));
  if (json) {
    printJson(ctx.io, statusJson(status));
  } else if (!status.initialised) {
    printLine(
      ctx.io,
      `embedded Postgres under ${status.home} is not initialised (loopwright db start)`,
    );
  } else {
    const s = statusJson(status);
    printFields(ctx.io, [
      ['database', s.url],
      ['source', 'embedded'],
      [
        'running',
        status.running ? `yes (pid ${s.pid ?? '?'}, port ${s.port})` : 'no (loopwright db start)',
      ],
      ['home', s.home],
      ['data', s.data_dir],
      ['log', s.log_file],
    ]);
  }
  return status.running ? 0 : 1;
}

async function printUrl(args: readonly string[], ctx: CliContext): Promise<number> {
  const json = jsonFlag(args);
  const external = externalDatabase(ctx.io.env);
  let url = external?.url;
  if (!url) {
    const status = await embeddedServerStatus(resolveHome(ctx.io.env));
    if (!status.initialised || !status.url) {
      throw new LoopwrightError(
        'DB_NOT_INITIALISED',
        `the embedded database under ${status.home} is not initialised (run: loopwright db start)`,
      );
    }
    if (!status.running)
      ctx.io.stderr(
        'loopwright: note: the embedded database is not running (run: loopwright db start)\n',
      );
    url = status.url;
  }
  if (json) printJson(ctx.io, { url, source: external?.source ?? 'embedded' });
  else printLine(ctx.io, url);
  return 0;
}

export const command: Command = {
  name: 'db',
  summary: 'start, stop and locate the embedded database',
  usage: `usage: loopwright db start | stop | status | url [--json]

  start   initialise (first time), start and migrate the embedded Postgres under LOOPWRIGHT_HOME
  stop    stop it (fast shutdown)
  status  where the database is and whether it is up (exit 1 when it is not)
  url     print the connection URL, password included

With LOOPWRIGHT_DATABASE_URL or DATABASE_URL set, status and url describe that database
and start/stop have nothing to do.`,
  run(args, ctx) {
    const external = externalDatabase(ctx.io.env) !== null;
    return dispatchSubcommand('db', args, ctx, {
      start: external ? nothingToDo('start') : startEmbedded,
      stop: external ? nothingToDo('stop') : stopEmbedded,
      status: external ? externalStatus : embeddedStatus,
      url: printUrl,
    });
  },
};
