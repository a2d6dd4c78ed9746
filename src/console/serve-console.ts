/**
 * The CLI's side of the console: parse `--port`/`--host`, start it, print the URL (and a generated
 * token, once), and — for `run` — turn a port that is taken into one line on stderr instead of a
 * failure, so the factory keeps running without its console.
 */
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import { BadInputError } from '../errors.js';
import { ConsoleUnavailableError, startConsole, type ConsoleHandle } from './server.js';

export interface ServeConsoleOptions {
  readonly handle: Db;
  readonly home: string;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly operator: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly print: (line: string) => void;
  readonly printError: (line: string) => void;
}

/** A `--host` value: an IP address or a host name, nothing else. */
export function parseHost(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const host = raw.trim();
  if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(host))
    throw new BadInputError(`--host must be an address or host name, got "${raw}"`);
  return host;
}

/** The address to print: the token link for a token-guarded console. */
export function consoleLink(c: ConsoleHandle): string {
  return c.token && c.tokenGenerated ? `${c.url}?token=${c.token}` : c.url;
}

/**
 * Start and announce the console; null (with one line on stderr) when it cannot start — a port in
 * use, an address not available, the database refusing its LISTEN connection — so that `run`
 * carries on without it.
 */
export async function serveConsole(o: ServeConsoleOptions): Promise<ConsoleHandle | null> {
  try {
    const c = await startConsole({
      handle: o.handle,
      home: o.home,
      host: o.host,
      port: o.port,
      actor: `operator:console:${o.operator}`,
      token: o.env.LOOPWRIGHT_CONSOLE_TOKEN,
      logger: o.logger,
    });
    o.print(`console: ${consoleLink(c)}`);
    if (c.token && !c.tokenGenerated)
      o.print('console: token from LOOPWRIGHT_CONSOLE_TOKEN required');
    return c;
  } catch (error) {
    o.printError(
      error instanceof ConsoleUnavailableError
        ? error.message
        : `console not started: ${(error as Error).message}`,
    );
    return null;
  }
}
