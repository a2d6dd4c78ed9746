/**
 * Argument parsing shared by every command: node's `util.parseArgs` in strict mode plus the
 * options all commands take (`--json`, `--help`), and strict converters for integers and lists.
 * Every problem becomes a one-line BadInputError (exit 2) before any command touches data.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BadInputError } from '../errors.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Options every command understands. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionsConfig;

/**
 * Parse a command's arguments (strict: unknown options and missing values are bad input).
 *
 * @example
 * ```ts
 * const { values, positionals } = parseCommandArgs(args, { repo: { type: 'string' } });
 * ```
 */
export function parseCommandArgs<const O extends OptionsConfig>(
  args: readonly string[],
  options: O,
) {
  try {
    return parseArgs({
      args: [...args],
      options: { ...COMMON_OPTIONS, ...options },
      strict: true,
      allowPositionals: true,
      tokens: true,
    });
  } catch (error) {
    throw toBadInput(error);
  }
}

/** Turn a parseArgs error into one short line (its first sentence). */
export function toBadInput(error: unknown): unknown {
  const code = (error as { code?: string })?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) return error;
  const message = (error as Error).message;
  const first = message.split(/\.\s/)[0]!.replace(/\.$/, '');
  // `--priority -5`: the value looks like an option; parseArgs' own advice is the useful part.
  const dashHint = /use '(--[\w-]+=-XYZ)'/.exec(message)?.[1];
  const line =
    first.charAt(0).toLowerCase() +
    first.slice(1) +
    (dashHint ? ` (for a value starting with -, write ${dashHint})` : '');
  return new BadInputError(line, { cause: error });
}

/** Exactly the positionals a command expects, named for the error message. */
export function expectPositionals(
  positionals: readonly string[],
  names: readonly string[],
  optional = 0,
): string[] {
  const required = names.length - optional;
  if (positionals.length < required)
    throw new BadInputError(`missing ${names[positionals.length]}`);
  if (positionals.length > names.length)
    throw new BadInputError(`unexpected argument: ${positionals[names.length]}`);
  return [...positionals];
}

/**
 * A strict integer flag: digits only (optionally signed), within bounds.
 *
 * @example
 * ```ts
 * parseInteger('--priority', '5', { min: -1000, max: 1000 }); // 5
 * parseInteger('--priority', 'abc');                           // throws BadInputError
 * ```
 */
export function parseInteger(
  flag: string,
  raw: string | undefined,
  bounds: { min?: number; max?: number } = {},
): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw.trim());
  if (!/^[+-]?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value)) {
    throw new BadInputError(`${flag} must be an integer, got "${raw}"`);
  }
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = bounds;
  if (value < min || value > max)
    throw new BadInputError(`${flag} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** A flag that may be repeated and/or hold a comma list: `--tag a,b --tag c` -> ['a', 'b', 'c']. */
export function parseList(raw: string | readonly string[] | undefined): string[] {
  if (raw === undefined) return [];
  const items = (typeof raw === 'string' ? [raw] : raw).flatMap((s) => s.split(','));
  return [...new Set(items.map((s) => s.trim()).filter((s) => s.length > 0))];
}

/** Reject a value that is present but blank (`--title ""`). */
export function nonBlank(flag: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === '') throw new BadInputError(`${flag} must not be empty`);
  return raw;
}
