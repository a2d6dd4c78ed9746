/**
 * `loopwright db start | stop | status | url`: the embedded Postgres under LOOPWRIGHT_HOME, or —
 * when LOOPWRIGHT_DATABASE_URL / DATABASE_URL is set — a report on that external database.
 */
import { stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import pg from 'pg';
import { resolveHome } from '../../config/home.js';
import { redactUrl, type DatabaseSource } from '../../db/connection.js';
import {
  buildServerUrl,
  destroyCluster,
  embeddedServerStatus,
  ensureEmbeddedServer,
  findCluster,
  stopEmbeddedServer,
  type ClusterTarget,
  type EmbeddedStatus,
} from '../../db/embedded/index.js';
import { BadInputError, LoopwrightError } from '../../errors.js';
import { formatBytes, measureTree } from '../../workspace/disk-usage.js';
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

/** Who owns the data dir and how much it holds (`du`), for `db status`. */
async function clusterDisk(dataDir: string | undefined, osUser: string | undefined) {
  const info = dataDir ? await stat(dataDir).catch(() => null) : null;
  if (!dataDir || !info) return { owner: null, size_bytes: null };
  const mine = info.uid === process.getuid?.();
  const owner = mine ? userInfo().username : (osUser ?? `uid ${info.uid}`);
  return { owner, size_bytes: (await measureTree(dataDir)).bytes };
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
  const home = resolveHome(ctx.io.env);
  const status = await embeddedServerStatus(home);
  const orphan = status.initialised ? undefined : await findCluster(home, ctx.io.env);
  const disk = await clusterDisk(status.dataDir ?? orphan?.dataDir, status.osUser);
  if (json) {
    printJson(ctx.io, {
      ...statusJson(status),
      ...disk,
      orphan: orphan ? { data_dir: orphan.dataDir, running: orphan.pid !== null } : null,
    });
  } else if (orphan) {
    printLine(ctx.io, orphanNote(home, orphan, disk.size_bytes));
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
      ['owner', disk.owner],
      ['size', disk.size_bytes === null ? null : formatBytes(disk.size_bytes)],
      ['log', s.log_file],
    ]);
  }
  return status.running ? 0 : 1;
}

function orphanNote(home: string, orphan: ClusterTarget, bytes: number | null): string {
  const size = bytes === null ? '' : `, ${formatBytes(bytes)}`;
  const state = orphan.pid === null ? 'stopped' : `running, pid ${orphan.pid}`;
  const fix = orphan.config
    ? 'the next start reuses it (its description is recorded beside it)'
    : 'its password is lost: loopwright db destroy removes it';
  return (
    `no server.json under ${home}, but a cluster for it is left in ${orphan.dataDir} ` +
    `(${state}${size}): ${fix}`
  );
}

/** Client connections other than ours to the running server (a run, the console, psql). */
async function otherConnections(target: ClusterTarget): Promise<number> {
  if (!target.config || target.port === null) return 0;
  const url = buildServerUrl({ ...target.config, port: target.port });
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ n: string }>(
      `select count(*) as n from pg_stat_activity
       where backend_type = 'client backend' and pid <> pg_backend_pid()`,
    );
    return Number(rows[0]?.n ?? 0);
  } catch {
    return 0; // it cannot be reached, so nobody is using it through this address
  } finally {
    await client.end().catch(() => {});
  }
}

/** `--yes`, or a `y` typed at a terminal; without a terminal the answer is bad input. */
async function confirmDestroy(ctx: CliContext, target: ClusterTarget, yes: boolean) {
  if (yes) return;
  const what = `db destroy deletes ${target.dataDir} and every ticket, journal row and run in it`;
  if (!ctx.attached || !process.stdin.isTTY)
    throw new BadInputError(`${what}: pass --yes to confirm (there is no terminal to ask)`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what}. Delete it? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new BadInputError('db destroy: not confirmed');
  } finally {
    rl.close();
  }
}

async function destroyEmbedded(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    force: { type: 'boolean' },
    yes: { type: 'boolean' },
  });
  expectPositionals(positionals, []);
  const home = resolveHome(ctx.io.env);
  const target = await findCluster(home, ctx.io.env);
  if (!target) {
    const note = `nothing to destroy: no embedded cluster for ${home}`;
    if (values.json) printJson(ctx.io, { source: 'embedded', home, destroyed: false, note });
    else printLine(ctx.io, note);
    return 0;
  }
  const users = values.force ? 0 : await otherConnections(target);
  if (users > 0)
    throw new BadInputError(
      `the embedded database is in use (${users} other connection${users === 1 ? '' : 's'}: ` +
        'a loopwright run, the console or psql); stop them, or pass --force',
      { code: 'DB_IN_USE' },
    );
  await confirmDestroy(ctx, target, values.yes === true);
  const { bytes } = await measureTree(target.dataDir);
  const removed = await destroyCluster(home, target);
  if (values.json)
    printJson(ctx.io, { source: 'embedded', home, destroyed: true, removed, size_bytes: bytes });
  else
    printLine(
      ctx.io,
      `destroyed the embedded cluster in ${target.dataDir} (${formatBytes(bytes)}); ` +
        'the next command starts a new, empty one',
    );
  return 0;
}

function externalDestroy(_args: readonly string[], ctx: CliContext): Promise<number> {
  const external = externalDatabase(ctx.io.env)!;
  throw new BadInputError(
    `db destroy removes only the embedded cluster, and loopwright uses the external database ` +
      `from ${external.source} (${redactUrl(external.url)}); nothing was changed`,
  );
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
  summary: 'start, stop, locate and destroy the embedded database',
  usage: `usage: loopwright db start | stop | status | url | destroy [--json]

  start   initialise (first time), start and migrate the embedded Postgres under LOOPWRIGHT_HOME
  stop    stop it (fast shutdown)
  status  where the database is (data dir, port, owner, size) and whether it is up (exit 1
          when it is not); also a cluster left behind by a deleted LOOPWRIGHT_HOME
  url     print the connection URL, password included
  destroy [--yes] [--force]   stop the embedded cluster and delete it (as root, its folder
          under /var/lib/loopwright too): every ticket is lost. Asks at a terminal, else needs
          --yes; refuses while others are connected (a run, the console, psql) unless --force

With LOOPWRIGHT_DATABASE_URL or DATABASE_URL set, status and url describe that database
and start/stop have nothing to do.`,
  run(args, ctx) {
    const external = externalDatabase(ctx.io.env) !== null;
    return dispatchSubcommand('db', args, ctx, {
      start: external ? nothingToDo('start') : startEmbedded,
      stop: external ? nothingToDo('stop') : stopEmbedded,
      status: external ? externalStatus : embeddedStatus,
      url: printUrl,
      destroy: external ? externalDestroy : destroyEmbedded,
    });
  },
};
