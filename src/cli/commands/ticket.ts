/**
 * `loopwright ticket add | list | depend`: file tickets, list them, and link them.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TOP_STATES } from '../../../machines/ticket.js';
import { getBatchByName } from '../../db/batches.js';
import { addDependencies, dependenciesOf } from '../../db/dependencies.js';
import { getRepositoryByName } from '../../db/repositories.js';
import { getTicket, listTickets, type TicketFilter } from '../../db/tickets.js';
import { createTicket } from '../../engine/create-ticket.js';
import { inTransaction } from '../../engine/transaction.js';
import { BadInputError } from '../../errors.js';
import { expectPositionals, nonBlank, parseCommandArgs, parseInteger, parseList } from '../args.js';
import type { CliContext, Command } from '../command.js';
import { formatTime, printJson, printLine, printTable, truncate } from '../output.js';
import { dispatchSubcommand } from '../subcommands.js';

const ADD_OPTIONS = {
  repo: { type: 'string' },
  title: { type: 'string' },
  body: { type: 'string' },
  'body-file': { type: 'string' },
  'depends-on': { type: 'string', multiple: true },
  batch: { type: 'string' },
  priority: { type: 'string' },
  tag: { type: 'string', multiple: true },
} as const;

async function addTicket(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, ADD_OPTIONS);
  expectPositionals(positionals, []);
  const repo = nonBlank('--repo', values.repo);
  if (!repo) throw new BadInputError('ticket add needs --repo <name>');
  const title = nonBlank('--title', values.title);
  if (!title) throw new BadInputError('ticket add needs --title <text>');
  const priority = parseInteger('--priority', values.priority, { min: -1000, max: 1000 });
  const body = await readBody(values.body, values['body-file'], ctx.io.cwd);
  const created = await createTicket(await ctx.db(), {
    repo,
    title,
    actor: ctx.actor(),
    ...(body === undefined ? {} : { body }),
    ...(priority === undefined ? {} : { priority }),
    ...(values.batch === undefined ? {} : { batch: values.batch }),
    tags: parseList(values.tag),
    dependsOn: parseList(values['depends-on']),
  });
  if (values.json)
    printJson(ctx.io, {
      key: created.key,
      id: created.id,
      state: created.state,
      repo,
      title: title.trim(),
    });
  else printLine(ctx.io, created.key);
  return 0;
}

/** The body from --body or --body-file (relative to the working directory), never both. */
async function readBody(
  body: string | undefined,
  file: string | undefined,
  cwd: string,
): Promise<string | undefined> {
  if (body !== undefined && file !== undefined)
    throw new BadInputError('give either --body or --body-file, not both');
  if (file === undefined) return body;
  const resolved = path.resolve(cwd, file);
  try {
    return await readFile(resolved, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BadInputError(
      `cannot read --body-file ${resolved}: ` +
        (code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')),
    );
  }
}

async function listTicketsCommand(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    repo: { type: 'string' },
    state: { type: 'string' },
    batch: { type: 'string' },
  });
  expectPositionals(positionals, []);
  const state = values.state === undefined ? undefined : parseState(values.state);
  const db = await ctx.db();
  // Naming a repo or batch that does not exist is a typo, not an empty list.
  if (values.repo !== undefined) await getRepositoryByName(db, values.repo);
  if (values.batch !== undefined) await getBatchByName(db, values.batch);
  const filter: TicketFilter = { repo: values.repo, batch: values.batch, state };
  const rows = await listTickets(db, filter);
  if (values.json) {
    printJson(ctx.io, { tickets: rows });
    return 0;
  }
  printTable(
    ctx.io,
    rows,
    [
      { header: 'KEY', value: (r) => r.key },
      { header: 'STATE', value: (r) => (r.substate ? `${r.state}.${r.substate}` : r.state) },
      { header: 'PRI', value: (r) => r.priority, right: true },
      { header: 'TITLE', value: (r) => truncate(r.title, 60) },
      { header: 'TAGS', value: (r) => r.tags },
      { header: 'UPDATED', value: (r) => formatTime(r.updated_at) },
    ],
    '(no tickets)',
  );
  return 0;
}

/** A state name as TOP_STATES spells it (case-insensitive), or bad input listing the valid ones. */
export function parseState(raw: string): string {
  const state = raw.trim().toUpperCase();
  if (!(TOP_STATES as readonly string[]).includes(state)) {
    throw new BadInputError(`unknown state: ${raw} (expected one of: ${TOP_STATES.join(', ')})`);
  }
  return state;
}

async function dependTicket(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    on: { type: 'string', multiple: true },
  });
  const [key] = expectPositionals(positionals, ['<ticket>']);
  const on = parseList(values.on);
  if (on.length === 0) throw new BadInputError('ticket depend needs --on <ticket>[,<ticket>]');
  const db = await ctx.db();
  const ticket = await inTransaction(db, async (trx) => {
    const target = await getTicket(trx, key!);
    const blockers = [];
    for (const ref of on) blockers.push(await getTicket(trx, ref));
    await addDependencies(
      trx,
      target.id,
      blockers.map((b) => b.id),
    );
    return target;
  });
  const dependencies = await dependenciesOf(db, ticket.id);
  if (values.json) printJson(ctx.io, { ticket: ticket.key, dependencies });
  else
    printLine(
      ctx.io,
      `${ticket.key} depends on ${dependencies.map((d) => `${d.key} (${d.state})`).join(', ')}`,
    );
  return 0;
}

export const command: Command = {
  name: 'ticket',
  summary: 'file, list and link tickets',
  usage: `usage:
  loopwright ticket add --repo R --title T [--body TEXT | --body-file F] [--depends-on KEY,KEY]
                        [--batch B] [--priority N] [--tag T]... [--json]
  loopwright ticket list [--repo R] [--state S] [--batch B] [--json]
  loopwright ticket depend <ticket> --on KEY[,KEY] [--json]

ticket add prints the new ticket's key (e.g. app-3); the ticket starts QUEUED.
  --depends-on  tickets that must be LIVE before this one starts (comma list, repeatable)
  --priority    -1000..1000, higher first (default 0)
  --tag         lowercase tag, repeatable or a comma list
ticket list --state takes one of: ${TOP_STATES.join(', ')}.
ticket depend adds dependency edges; one that would close a cycle is refused.`,
  run: (args, ctx) =>
    dispatchSubcommand('ticket', args, ctx, {
      add: addTicket,
      list: listTicketsCommand,
      depend: dependTicket,
    }),
};
