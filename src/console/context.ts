/**
 * What every console route is handed: the database, the home (for transcripts), the actor its
 * operator actions are journaled with, the live hub, and the request's session/CSRF token.
 */
import type { Logger } from 'pino';
import type { Kdb } from '../db/connection.js';
import type { LiveHub } from './live-hub.js';
import type { Csrf } from './security.js';

export interface ConsoleDeps {
  readonly db: Kdb;
  readonly home: string;
  /** `operator:console:<name>`: how the journal records a button press. */
  readonly actor: string;
  readonly hub: LiveHub;
  readonly csrf: Csrf;
  readonly logger: Logger;
  /** Required token (non-loopback bind, or configured); null on a plain loopback bind. */
  readonly token: string | null;
  /** Host headers accepted (loopback bind); null accepts any (a token guards the door). */
  readonly hosts: ReadonlySet<string> | null;
}

/** Hono's per-request variables set by the guard. */
export interface ConsoleEnv {
  Variables: { session: string; csrfToken: string };
}
