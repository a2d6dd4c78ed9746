/**
 * `loopwright batch create | list`: named groups of tickets the done-oracle judges together.
 */
import { getBatchByName, insertBatch } from '../../db/batches.js';
import { BadInputError, NotFoundError } from '../../errors.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { CliContext, Command } from '../command.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import { listBatchSummaries } from '../queries.js';
import { dispatchSubcommand } from '../subcommands.js';

async function createBatch(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {});
  const [raw] = expectPositionals(positionals, ['<name>']);
  const name = raw!.trim();
  if (name.length < 1 || name.length > 100) throw new BadInputError('a batch name must be 1 to 100 characters');
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
  if (values.json) printJson(ctx.io, { name: batch.name, status: batch.status, created_at: batch.created_at });
  else printLine(ctx.io, `created batch ${batch.name}`);
  return 0;
}

async function listBatches(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {});
  expectPositionals(positionals, []);
  const batches = await listBatchSummaries(await ctx.db());
  if (values.json) {
    printJson(ctx.io, batches);
    return 0;
  }
  printTable(ctx.io, batches, [
    { header: 'NAME', value: (b) => b.name },
    { header: 'STATUS', value: (b) => b.status },
    { header: 'TICKETS', value: (b) => b.tickets, right: true },
    { header: 'LIVE', value: (b) => b.live, right: true },
    { header: 'CREATED', value: (b) => formatTime(b.created_at) },
  ], '(no batches: loopwright batch create <name>)');
  return 0;
}

export const command: Command = {
  name: 'batch',
  summary: 'create and list batches',
  usage: `usage:
  loopwright batch create <name> [--json]
  loopwright batch list [--json]

A batch groups tickets (ticket add --batch <name>) so they can be judged done together.`,
  run: (args, ctx) => dispatchSubcommand('batch', args, ctx, { create: createBatch, list: listBatches }),
};
