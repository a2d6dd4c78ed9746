/**
 * Dispatch for command groups (`repo add`, `db start`, ...): the first argument names the
 * subcommand; a missing or unknown one is bad input.
 */
import { BadInputError } from '../errors.js';
import type { CliContext } from './command.js';

export type Subcommand = (args: readonly string[], ctx: CliContext) => Promise<number>;

/**
 * Run the subcommand `args[0]` of `group`.
 *
 * @example
 * ```ts
 * return dispatchSubcommand('batch', args, ctx, { create: createBatch, list: listBatches });
 * ```
 */
export function dispatchSubcommand(
  group: string,
  args: readonly string[],
  ctx: CliContext,
  handlers: Readonly<Record<string, Subcommand>>,
): Promise<number> {
  const [name, ...rest] = args;
  const names = Object.keys(handlers).join(', ');
  if (!name || name.startsWith('-'))
    throw new BadInputError(`${group} needs a subcommand: ${names}`);
  const handler = Object.hasOwn(handlers, name) ? handlers[name] : undefined;
  if (!handler)
    throw new BadInputError(`unknown ${group} subcommand: ${name} (expected one of: ${names})`);
  return handler(rest, ctx);
}
