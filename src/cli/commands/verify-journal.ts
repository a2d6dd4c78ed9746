/**
 * `loopwright verify-journal [<ticket> | --all]`: replay journals through the current machine and
 * name the first row of each ticket whose stored snapshot differs (DESIGN.md section 3).
 */
import { verifyJournal } from '../../engine/verify-journal.js';
import { BadInputError } from '../../errors.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { printJson, printLine } from '../output.js';

export const command: Command = {
  name: 'verify-journal',
  summary: 'replay journals through the machine and report rows that differ',
  usage: `usage: loopwright verify-journal [<ticket> | --all] [--json]

Recomputes every snapshot from the journal's events through the current machine.
Prints "ok: N tickets, M rows verified" and exits 0, or names the first differing row of each
ticket ("app-3 row 7: stored snapshot differs from the replayed one") and exits 1.
Without arguments every ticket is verified.`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, { all: { type: 'boolean' } });
    const [key] = expectPositionals(positionals, ['<ticket>'], 1);
    if (key !== undefined && values.all)
      throw new BadInputError('give a ticket or --all, not both');
    const result = await verifyJournal(await ctx.db(), key);
    const ok = result.mismatches.length === 0;
    if (values.json) {
      printJson(ctx.io, { ok, ...result });
    } else if (ok) {
      printLine(ctx.io, `ok: ${result.tickets} tickets, ${result.rows} rows verified`);
    } else {
      for (const m of result.mismatches)
        printLine(ctx.io, `${m.ticket} row ${m.seq}: ${m.problem}`);
      printLine(
        ctx.io,
        `${result.mismatches.length} of ${result.tickets} tickets differ ` +
          `(${result.rows} rows read)`,
      );
    }
    return ok ? 0 : 1;
  },
};
