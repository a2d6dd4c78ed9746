/**
 * `loopwright batch create | list`: named groups of tickets the done-oracle judges together.
 */

import { BadInputError, NotFoundError } from '../../errors.js';
import { expectPositionals, nonBlank, parseCommandArgs } from '../args.js';
import type { CliContext, Command } from '../command.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import {
  getBatchByName,
  insertBatch,
  listBatchEvents,
  listBatchSummaries,
} from '../../db/batches.js';
import { listTickets } from '../../db/tickets.js';
import { repinBatch } from '../../oracle/tripwire.js';
import { dispatchSubcommand } from '../subcommands.js';

async function createBatch(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {});
  const [raw] = expectPositionals(positionals, ['<name>']);
  const name = raw!.trim();
  if (name.length < 1 || name.length > 100)
    throw new BadInputError('a batch name must be 1 to 100 characters');
  const db = await ctx.db();
  const exists = await getBatchByName(db, name).then(
    () => true,
    (error: unknown) => {
      if (error instanceof NotFoundError) return false;
      throw error;
    },
  );
  if (exists) throw new BadInputError(`batch already exists: ${name}`);
  const batch = await insertBatch(db, name);
  if (values.json)
    printJson(ctx.io, { name: batch.name, status: batch.status, created_at: batch.created_at });
  else printLine(ctx.io, `created batch ${batch.name}`);
  return 0;
}

async function listBatches(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {});
  expectPositionals(positionals, []);
  const batches = await listBatchSummaries(await ctx.db());
  if (values.json) {
    printJson(ctx.io, { batches });
    return 0;
  }
  printTable(
    ctx.io,
    batches,
    [
      { header: 'NAME', value: (b) => b.name },
      { header: 'STATUS', value: (b) => b.status },
      { header: 'TICKETS', value: (b) => b.tickets, right: true },
      { header: 'LIVE', value: (b) => b.live, right: true },
      { header: 'CREATED', value: (b) => formatTime(b.created_at) },
    ],
    '(no batches: loopwright batch create <name>)',
  );
  return 0;
}

async function showBatch(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {});
  const [name] = expectPositionals(positionals, ['<name>']);
  const db = await ctx.db();
  const batch = await getBatchByName(db, name!);
  const tickets = await listTickets(db, { batch: batch.name });
  const events = await listBatchEvents(db, batch.id);
  if (values.json) {
    printJson(ctx.io, {
      name: batch.name,
      status: batch.status,
      stop_reason: batch.stop_reason,
      pins: batch.pins,
      pinned_at: batch.pinned_at,
      tickets,
      events,
    });
    return 0;
  }
  printLine(
    ctx.io,
    `batch ${batch.name}: ${batch.status}${batch.stop_reason ? ` (${batch.stop_reason})` : ''}`,
  );
  printLine(
    ctx.io,
    batch.pins
      ? `pinned ${formatTime(batch.pinned_at)}:`
      : 'not pinned yet (pins are taken when its first ticket starts)',
  );
  for (const [key, digest] of Object.entries(batch.pins ?? {}))
    printLine(ctx.io, `  ${key.padEnd(24)} ${String(digest).slice(0, 16)}`);
  printLine(ctx.io);
  printTable(
    ctx.io,
    tickets,
    [
      { header: 'TICKET', value: (t) => t.key },
      { header: 'STATE', value: (t) => (t.substate ? `${t.state}.${t.substate}` : t.state) },
      { header: 'TITLE', value: (t) => t.title },
    ],
    '(no tickets: loopwright ticket add --batch <name> ...)',
  );
  if (events.length) {
    printLine(ctx.io);
    printTable(ctx.io, events, [
      { header: 'TIME', value: (e) => formatTime(e.created_at) },
      { header: 'EVENT', value: (e) => e.event_type },
      { header: 'ACTOR', value: (e) => e.actor },
      {
        header: 'DETAIL',
        value: (e) => [e.changed.join(', '), e.reason].filter(Boolean).join(' — '),
      },
    ]);
  }
  return 0;
}

async function repin(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { reason: { type: 'string' } });
  const [name] = expectPositionals(positionals, ['<name>']);
  const reason = nonBlank('--reason', values.reason);
  if (!reason)
    throw new BadInputError(
      'batch repin needs --reason: say why the new definition of done is right',
    );
  const result = await repinBatch(await ctx.db(), name!, ctx.actor(), reason);
  if (values.json) printJson(ctx.io, result);
  else {
    printLine(
      ctx.io,
      `repinned ${result.batch}` +
        (result.changed.length ? ` (changed: ${result.changed.join(', ')})` : ''),
    );
    if (result.retried.length) printLine(ctx.io, `retried: ${result.retried.join(', ')}`);
  }
  return 0;
}

export const command: Command = {
  name: 'batch',
  summary: 'create, list, show and repin batches',
  usage: `usage:
  loopwright batch create <name> [--json]
  loopwright batch list [--json]
  loopwright batch show <name> [--json]
  loopwright batch repin <name> --reason TEXT [--json]

A batch groups tickets (ticket add --batch <name>) so they can be judged done together
(loopwright oracle --batch <name>). When its first ticket starts, the batch pins the sha256 of
what defines done (gate settings, validator charter, oracle); a later change stops the batch
(VERIFIER_CHANGED) until a human repins it with a reason.`,
  run: (args, ctx) =>
    dispatchSubcommand('batch', args, ctx, {
      create: createBatch,
      list: listBatches,
      show: showBatch,
      repin,
    }),
};
