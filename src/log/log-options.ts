/**
 * `--log-level` and `--log-format` (and LOOPWRIGHT_LOG_LEVEL / LOOPWRIGHT_LOG_FORMAT) for the
 * commands that run the factory: a flag beats the variable, the variable beats the default, and
 * a value not in the list is bad input naming the allowed ones.
 */
import { BadInputError } from '../errors.js';
import {
  defaultLogFormat,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  setLogFormat,
  setLogLevel,
} from './logger.js';

export interface LogChoice {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** The format was asked for (flag or variable), not just the terminal's default. */
  readonly formatChosen: boolean;
}

/** The option spec both flags need in `parseCommandArgs`. */
export const LOG_FLAGS = {
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
} as const;

/**
 * Decide (and check) the level and format; nothing is changed yet.
 *
 * @example
 * ```ts
 * chooseLogging({ 'log-level': 'debug' }, process.env, 'info');
 * // { level: 'debug', format: 'json', formatChosen: false }   (stderr not a terminal)
 * ```
 */
export function chooseLogging(
  flags: { readonly 'log-level'?: string; readonly 'log-format'?: string },
  env: NodeJS.ProcessEnv,
  defaultLevel: LogLevel,
): LogChoice {
  const level = pick('--log-level', LOG_LEVELS, flags['log-level'], env.LOOPWRIGHT_LOG_LEVEL);
  const format = pick('--log-format', LOG_FORMATS, flags['log-format'], env.LOOPWRIGHT_LOG_FORMAT);
  return {
    level: level ?? defaultLevel,
    format: format ?? defaultLogFormat(),
    formatChosen: format !== undefined,
  };
}

/** Apply a choice to the process-wide logger. */
export function applyLogging(choice: LogChoice): void {
  setLogLevel(choice.level);
  setLogFormat(choice.format);
}

function pick<T extends string>(
  flag: string,
  allowed: readonly T[],
  fromFlag: string | undefined,
  fromEnv: string | undefined,
): T | undefined {
  const [value, source] =
    fromFlag !== undefined ? [fromFlag, flag] : [fromEnv, `LOOPWRIGHT_${envName(flag)}`];
  if (value === undefined || value.trim() === '') return undefined;
  const found = allowed.find((v) => v === value.trim().toLowerCase());
  if (!found)
    throw new BadInputError(`${source} must be one of ${allowed.join(', ')}, got "${value}"`);
  return found;
}

const envName = (flag: string) => flag.replace(/^--/, '').replace('-', '_').toUpperCase();
