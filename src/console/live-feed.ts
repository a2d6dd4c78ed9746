/**
 * The console's one LISTEN connection: notifications on
 * `loopwright_console` are coalesced for a few milliseconds and handed to listeners as the ticket
 * ids and batch ids that changed. A lost connection is re-opened with backoff; listeners are then
 * told to resync, because notifications sent while disconnected are gone. The engine announces
 * its journal rows and new runs (src/db/announce.ts); triggers announce the other agent run
 * changes and batch journal rows (migrations/0009_console_notify.sql,
 * 0022_announce_after_commit.sql).
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { CONSOLE_CHANNEL } from '../db/announce.js';

/** What changed since the last delivery. */
export interface FeedChange {
  readonly tickets: readonly string[];
  readonly batches: readonly string[];
  /** True after a reconnect: anything may have changed. */
  readonly resync: boolean;
}

export interface LiveFeed {
  /** Subscribe; returns the unsubscribe function. */
  subscribe(listener: (change: FeedChange) => void): () => void;
  /** True while the LISTEN connection is up. */
  readonly connected: boolean;
  close(): Promise<void>;
}

export interface LiveFeedOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Coalescing window (default 15 ms). */
  readonly coalesceMs?: number;
  readonly maxBackoffMs?: number;
}

/** Open the feed; resolves once the first LISTEN is in place (or fails fast if it cannot be). */
export async function openLiveFeed(o: LiveFeedOptions): Promise<LiveFeed> {
  const listeners = new Set<(change: FeedChange) => void>();
  const tickets = new Set<string>();
  const batches = new Set<string>();
  let resync = false;
  let timer: NodeJS.Timeout | null = null;
  let client: pg.Client | null = null;
  let closed = false;
  let backoff = 250;

  const deliver = () => {
    timer = null;
    const change: FeedChange = { tickets: [...tickets], batches: [...batches], resync };
    tickets.clear();
    batches.clear();
    resync = false;
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        o.logger.warn({ err: error }, 'Console feed listener failed');
      }
    }
  };
  const schedule = () => {
    timer ??= setTimeout(deliver, o.coalesceMs ?? 15);
  };

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: o.url, application_name: 'loopwright-console' });
    c.on('notification', (n) => {
      const payload = n.payload ?? '';
      if (payload.startsWith('batch:')) batches.add(payload.slice(6));
      else if (/^\d+$/.test(payload)) tickets.add(payload);
      schedule();
    });
    c.on('error', () => {}); // 'end' follows; reconnect happens there
    c.on('end', () => {
      if (client !== c || closed) return;
      client = null;
      o.logger.warn({ retryMs: backoff }, 'Console live feed lost its connection');
      setTimeout(() => void reconnect(), backoff).unref();
      backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 5000);
    });
    await c.connect();
    await c.query(`LISTEN ${CONSOLE_CHANNEL}`);
    client = c;
  };
  const reconnect = async () => {
    if (closed) return;
    try {
      await connect();
      backoff = 250;
      resync = true;
      schedule();
      o.logger.info({}, 'Console live feed reconnected');
    } catch {
      setTimeout(() => void reconnect(), backoff).unref();
      backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 5000);
    }
  };

  await connect();
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get connected() {
      return client !== null;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
