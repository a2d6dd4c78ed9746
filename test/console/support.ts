/**
 * Console test support: a console started on a harness's database (any free loopback port), and a
 * real Debian chromium driven by playwright-core with the flags DEVELOPERS.md names.
 */
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { chromium, type Browser } from 'playwright-core';
import type { Db } from '../../src/db/connection.js';
import { startConsole, type ConsoleHandle } from '../../src/console/server.js';

export const CHROMIUM = process.env.LOOPWRIGHT_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Launch chromium headless with a fresh profile; fails loudly when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (CI installs it)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

export const SILENT = pino({ level: 'silent' });

/** A console on 127.0.0.1:<free port> for `handle`. */
export function consoleOn(
  handle: Db,
  home: string,
  o: { host?: string; token?: string } = {},
): Promise<ConsoleHandle> {
  return startConsole({
    handle,
    home,
    port: 0,
    actor: 'operator:console:tester',
    logger: SILENT,
    ...(o.host ? { host: o.host } : {}),
    ...(o.token ? { token: o.token } : {}),
  });
}
