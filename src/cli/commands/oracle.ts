/**
 * `loopwright oracle --batch B`: exit 0 iff the batch is done by external truth, 3 otherwise.
 */
import { resolveHome } from '../../config/home.js';
import { BadInputError } from '../../errors.js';
import { judgeBatch } from '../../oracle/oracle.js';
import { expectPositionals, nonBlank, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { printJson, printLine, printTable } from '../output.js';

/** Exit code of an oracle that is not (yet) satisfied (DESIGN.md section 8). */
export const EXIT_NOT_DONE = 3;

export const command: Command = {
  name: 'oracle',
  summary: 'is a batch done? re-checked against git and live checks, never agent reports',
  usage: `usage: loopwright oracle --batch <name> [--recheck] [--json]

Exits 0 iff every ticket of the batch is LIVE — its merge commit reachable from the base branch and
the orchestrator's live check passed on it — or explicitly human-gated; exits 3 otherwise, listing
what is missing. A batch whose pins (gate settings, validator charter, oracle) changed is not done
until a human runs \`loopwright batch repin\`.
  --recheck   run each repository's live check again on the current base branch tip`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      batch: { type: 'string' },
      recheck: { type: 'boolean' },
    });
    expectPositionals(positionals, []);
    const name = nonBlank('--batch', values.batch);
    if (!name) throw new BadInputError('oracle needs --batch <name>');
    const result = await judgeBatch(await ctx.db(), name, {
      recheck: values.recheck === true,
      home: resolveHome(ctx.io.env),
    });
    if (values.json) {
      printJson(ctx.io, result);
    } else {
      printLine(ctx.io, `batch ${result.batch}: ${result.done ? 'DONE' : 'NOT DONE'}`);
      for (const b of result.blockers) printLine(ctx.io, `  ! ${b}`);
      printTable(ctx.io, result.tickets, [
        { header: 'TICKET', value: (t) => t.key },
        { header: 'STATE', value: (t) => t.state },
        { header: 'VERDICT', value: (t) => t.verdict },
        { header: 'WHY', value: (t) => t.why.join('; ') },
      ]);
    }
    return result.done ? 0 : EXIT_NOT_DONE;
  },
};
