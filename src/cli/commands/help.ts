/**
 * `loopwright help [<command>]`: the command list, or one command's usage. The list is handed in
 * by the registry ({@link createHelpCommand}), so this module never imports it.
 */
import { BadInputError } from '../../errors.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { CliIo, Command, CommandEntry } from '../command.js';
import { printJson, printLine } from '../output.js';

/** The overview `loopwright`, `loopwright --help` and `loopwright help` print. */
export function printOverview(io: CliIo, commands: readonly CommandEntry[]): void {
  const width = Math.max(...commands.map((c) => c.name.length));
  printLine(io, 'loopwright — drives tickets of many git repositories through a gated');
  printLine(io, 'plan / RED / build / validate / ship lifecycle with disposable AI agents.');
  printLine(io);
  printLine(io, 'usage: loopwright <command> [arguments] [--json] [--help]');
  printLine(io);
  printLine(io, 'commands:');
  for (const c of commands) printLine(io, `  ${c.name.padEnd(width)}  ${c.summary}`);
  printLine(io);
  printLine(io, 'database: LOOPWRIGHT_DATABASE_URL or DATABASE_URL, else the embedded Postgres');
  printLine(io, 'under LOOPWRIGHT_HOME (default ~/.loopwright), started on demand.');
  printLine(io, 'exit codes: 0 ok, 1 failure, 2 bad input.');
}

/** The help command over `commands` (the registry's list). */
export function createHelpCommand(commands: readonly CommandEntry[]): Command {
  return {
    name: 'help',
    summary: 'show help for a command',
    usage: 'usage: loopwright help [<command>] [--json]',
    async run(args, ctx) {
      const { values, positionals } = parseCommandArgs(args, {});
      const [name] = expectPositionals(positionals, ['<command>'], 1);
      if (name === undefined) {
        if (values.json)
          printJson(ctx.io, {
            commands: commands.map((c) => ({ name: c.name, summary: c.summary })),
          });
        else printOverview(ctx.io, commands);
        return 0;
      }
      const entry = commands.find((c) => c.name === name);
      if (!entry) throw new BadInputError(`unknown command: ${name} (see: loopwright help)`);
      const target = await entry.load();
      if (values.json)
        printJson(ctx.io, { name: target.name, summary: target.summary, usage: target.usage });
      else printLine(ctx.io, target.usage);
      return 0;
    },
  };
}
