/**
 * Fans the live feed out to every open page as server-sent events. A changed ticket is loaded and
 * its card rendered once per console process, whatever the number of pages; each page decides from
 * the message (state, repo, batch) whether and where the card belongs.
 */
import type { Logger } from 'pino';
import { loadCards } from '../db/board.js';
import type { Kdb } from '../db/connection.js';
import type { FeedChange, LiveFeed } from './live-feed.js';
import { renderCard } from './views/board.js';

/** One message to pages: an SSE event name and its JSON data. */
export interface LiveMessage {
  readonly event: 'ticket' | 'batch' | 'resync';
  readonly data: Record<string, unknown>;
}

export interface LiveHub {
  /** Add a page; returns its removal. */
  join(send: (message: LiveMessage) => void): () => void;
  readonly pages: number;
  close(): void;
}

export function createLiveHub(db: Kdb, feed: LiveFeed, logger: Logger): LiveHub {
  const pages = new Set<(message: LiveMessage) => void>();
  const broadcast = (message: LiveMessage) => {
    for (const send of pages) send(message);
  };
  const onChange = async (change: FeedChange) => {
    if (change.resync) broadcast({ event: 'resync', data: {} });
    for (const id of change.batches) broadcast({ event: 'batch', data: { id } });
    if (change.tickets.length === 0 || pages.size === 0) return;
    const now = new Date();
    for (const card of await loadCards(db, change.tickets)) {
      broadcast({
        event: 'ticket',
        data: {
          id: card.id,
          key: card.key,
          state: card.state,
          substate: card.substate,
          repo: card.repo,
          batch: card.batch,
          html: renderCard(card, now).value,
        },
      });
    }
  };
  const unsubscribe = feed.subscribe(
    (change) =>
      void onChange(change).catch((error) =>
        logger.warn({ err: error }, 'Console live update failed'),
      ),
  );
  return {
    join(send) {
      pages.add(send);
      return () => pages.delete(send);
    },
    get pages() {
      return pages.size;
    },
    close() {
      unsubscribe();
      pages.clear();
    },
  };
}
