/**
 * The `loopwright` command line: find the command, run it, turn whatever it throws into one line
 * on stderr and an exit code (0 ok, 1 failure, 2 bad input), and always close the database.
 *
 * @example
 * ```ts
 * // in-process, as the tests do:
 * const env = { LOOPWRIGHT_DATABASE_URL: url };
 * const code = await main(['ticket', 'list', '--json'], { stdout, stderr, env, cwd });
 * ```
 */
import { BadInputError, LoopwrightError } from '../errors.js';
import { toBadInput } from './args.js';
import type { CliContext, CliIo } from './command.js';
import { createContext } from './context.js';
import { wantsJson } from './json-contract.js';
import { printError, printJsonError, printLine } from './output.js';
import { COMMANDS, findCommand } from './registry.js';

export type { CliIo, Command, CommandEntry, CliContext } from './command.js';
export { COMMANDS } from './registry.js';

let pipeGuarded = false;

/** The real process's streams, environment and directory. */
export function processIo(): CliIo {
  if (!pipeGuarded) {
    pipeGuarded = true;
    // `loopwright ticket list | head -1`: a reader that went away is not an error worth a stack.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  return {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    env: process.env,
    cwd: process.cwd(),
  };
}

/**
 * Run one command line (without the `node loopwright` prefix) and return its exit code.
 * When `io` is omitted the process's own is used, and child processes (psql) inherit the terminal.
 */
export async function main(argv: readonly string[], io?: CliIo): Promise<number> {
  const ctx = createContext(io ?? processIo(), io === undefined);
  try {
    return await dispatch(argv, ctx);
  } catch (error) {
    return reportError(ctx.io, error, wantsJson(argv));
  } finally {
    await ctx.close();
  }
}

async function dispatch(argv: readonly string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    const { printOverview } = await import('./commands/help.js');
    printOverview(ctx.io, COMMANDS);
    return 0;
  }
  if (name === '--version' || name === '-V') {
    const { packageVersion } = await import('../config/package-root.js');
    printLine(ctx.io, packageVersion());
    return 0;
  }
  const entry = findCommand(name);
  if (!entry) throw new BadInputError(`unknown command: ${name} (see: loopwright help)`);
  const command = await entry.load();
  if (wantsHelp(rest)) {
    printLine(ctx.io, command.usage);
    return 0;
  }
  return command.run(rest, ctx);
}

/** `--help` or `-h` anywhere before a `--`. */
function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * One line on stderr and the exit code an error means: bad input 2, everything else 1. Under
 * `--json` the line is the contract's error document (`{"schemaVersion":1,"error":{...}}`).
 * LOOPWRIGHT_DEBUG=1 adds the stack.
 */
export function reportError(io: CliIo, thrown: unknown, json = false): number {
  const error = toBadInput(thrown);
  const message = error instanceof Error ? error.message : String(error);
  const badInput = error instanceof BadInputError;
  const named = error instanceof LoopwrightError;
  if (json) {
    const code = named ? error.code : badInput ? 'BAD_INPUT' : 'FAILURE';
    printJsonError(io, code, message.replace(/\s*\n\s*/g, ' ').trim());
    return badInput ? 2 : 1;
  }
  // Named errors are written for one line; others (e.g. a server log tail) keep their lines.
  printError(io, named ? message.replace(/\s*\n\s*/g, ' ') : message);
  if (io.env.LOOPWRIGHT_DEBUG === '1' && error instanceof Error && error.stack)
    io.stderr(`${error.stack}\n`);
  return badInput ? 2 : 1;
}
