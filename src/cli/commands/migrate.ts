/**
 * `loopwright migrate`: bring the database schema up to date and say what was applied. (Every
 * other command migrates on connect too; this one reports it.)
 */
import { openDatabase, redactUrl } from '../../db/connection.js';
import { migrate } from '../../db/migrate.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { printJson, printLine } from '../output.js';

export const command: Command = {
  name: 'migrate',
  summary: 'apply pending database migrations',
  usage: `usage: loopwright migrate [--json]

Applies the numbered migrations in migrations/ (and graphile-worker's schema) that the
database in use has not seen, each in its own transaction, and prints their names.`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {});
    expectPositionals(positionals, []);
    const handle = await openDatabase({ env: ctx.io.env, migrate: false, max: 2 });
    const { target } = handle;
    try {
      const result = await migrate(handle.pool);
      if (values.json) {
        printJson(ctx.io, {
          database: redactUrl(target.url),
          source: target.source,
          applied: result.applied,
          already_applied: result.alreadyApplied,
        });
      } else if (result.applied.length === 0) {
        printLine(ctx.io, `up to date: ${result.alreadyApplied} migrations already applied`);
      } else {
        for (const name of result.applied) printLine(ctx.io, `applied ${name}`);
        printLine(
          ctx.io,
          `${result.applied.length} applied, ${result.alreadyApplied} already applied`,
        );
      }
      return 0;
    } finally {
      await handle.close();
    }
  },
};
