/**
 * Starting and stopping the console: one HTTP server (Hono on @hono/node-server), one LISTEN
 * connection, one live hub. Loopback by default; any other bind requires a token.
 */
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import { LoopwrightError } from '../errors.js';
import { createConsoleApp } from './app.js';
import { openLiveFeed } from './live-feed.js';
import { createLiveHub } from './live-hub.js';
import { allowedHosts, createCsrf, isLoopbackHost, newToken } from './security.js';

export const DEFAULT_CONSOLE_PORT = 7420;
export const DEFAULT_CONSOLE_HOST = '127.0.0.1';

/** The console could not listen (port taken, address not available). */
export class ConsoleUnavailableError extends LoopwrightError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONSOLE_UNAVAILABLE', message, options);
  }
}

export interface ConsoleOptions {
  readonly handle: Db;
  readonly home: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** `operator:console:<name>`. */
  readonly actor: string;
  /** LOOPWRIGHT_CONSOLE_TOKEN; required off loopback (a fresh one is made when absent). */
  readonly token?: string | undefined;
  readonly logger: Logger;
}

export interface ConsoleHandle {
  /** `http://127.0.0.1:7420/` */
  readonly url: string;
  readonly port: number;
  /** The token this console requires, when it requires one. */
  readonly token: string | null;
  /** True when the token was generated here (print it once). */
  readonly tokenGenerated: boolean;
  /** Pages connected to the live stream right now. */
  readonly pages: () => number;
  close(): Promise<void>;
}

/** Start the console; throws ConsoleUnavailableError when it cannot listen. */
export async function startConsole(o: ConsoleOptions): Promise<ConsoleHandle> {
  const host = o.host ?? DEFAULT_CONSOLE_HOST;
  const loopback = isLoopbackHost(host);
  const configured = o.token?.trim() || null;
  const token = configured ?? (loopback ? null : newToken());
  const feed = await openLiveFeed({ url: o.handle.target.url, logger: o.logger });
  const hub = createLiveHub(o.handle.db, feed, o.logger);
  let port = o.port ?? DEFAULT_CONSOLE_PORT;
  const deps = {
    db: o.handle.db,
    home: o.home,
    actor: o.actor,
    hub,
    csrf: createCsrf(),
    logger: o.logger,
    token,
    hosts: null as ReadonlySet<string> | null,
  };
  const app = createConsoleApp(deps);
  const server = createAdaptorServer({ fetch: app.fetch });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    hub.close();
    await feed.close();
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConsoleUnavailableError(
      code === 'EADDRINUSE'
        ? `console not started: port ${port} on ${host} is already in use (choose another ` +
            `with --console-port / --port)`
        : `console not started: cannot listen on ${host}:${port} ` +
            `(${code ?? (error as Error).message})`,
      { cause: error },
    );
  }
  port = (server.address() as AddressInfo).port;
  if (loopback) deps.hosts = allowedHosts(host, port);
  const shown = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${port}/`;
  o.logger.info({ url, tokenRequired: token !== null }, 'Console listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    token,
    tokenGenerated: token !== null && configured === null,
    pages: () => hub.pages,
    close: () =>
      (closing ??= (async () => {
        hub.close();
        await feed.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        await closed;
      })()),
  };
}
