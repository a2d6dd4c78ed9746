/**
 * What the integrations lane runs besides its jobs: the webhook receiver (when a port is given),
 * and one loop that polls waiting PRs of poll-mode repositories, reflects phase changes in Linear
 * and sends notifications. The loop reads the database; it makes no request for a ticket that is
 * waiting on a webhook.
 */
import type { Logger } from 'pino';
import { sql } from 'kysely';
import type { Kdb } from '../db/connection.js';
import { advanceCursor } from '../db/integrations.js';
import { readSecret } from './credentials.js';
import { pollWaitingPrs } from './github/poll.js';
import { createLinear } from './linear/client.js';
import { syncLinear } from './linear/sync.js';
import { notifyFromJournal } from './notify.js';
import { startWebhookServer, type WebhookServer } from './webhooks/server.js';

export interface IntegrationsOptions {
  readonly db: Kdb;
  readonly home: string;
  readonly logger: Logger;
  /** Listen for webhooks on this port (0: any free port); undefined: no receiver. */
  readonly webhookPort?: number;
  readonly webhookHost?: string;
  /** Loop period (default 2 s). */
  readonly tickMs?: number;
  /** Whether anything uses an integration now; the loop skips its passes (no query) while not. */
  readonly active?: () => boolean;
}

export interface Integrations {
  readonly webhookUrl: string | null;
  stop(): Promise<void>;
}

const NOTIFY_CURSOR = 'notifications';

export async function startIntegrations(o: IntegrationsOptions): Promise<Integrations> {
  const server: WebhookServer | null =
    o.webhookPort === undefined
      ? null
      : await startWebhookServer({
          db: o.db,
          port: o.webhookPort,
          logger: o.logger,
          ...(o.webhookHost ? { host: o.webhookHost } : {}),
        });
  let cursor = await startCursor(o.db);
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const tick = async () => {
    await pollWaitingPrs(o.db, o.logger);
    if (readSecret('LINEAR_API_KEY')) await syncLinear(o.db, await createLinear(), o.logger);
    const next = await notifyFromJournal(o.db, o.home, cursor, o.logger);
    if (next !== cursor) await advanceCursor(o.db, NOTIFY_CURSOR, (cursor = next));
  };
  const timer = setInterval(() => {
    if (stopped || (o.active && !o.active())) return;
    running = running
      .then(tick)
      .catch((error: unknown) => o.logger.warn({ err: error }, 'Integrations tick failed'));
  }, o.tickMs ?? 2000);
  return {
    webhookUrl: server?.url ?? null,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await server?.close();
    },
  };
}

/** Notifications start from now the first time (history is not re-announced). */
async function startCursor(db: Kdb): Promise<number> {
  const row = await db
    .selectFrom('loopwright.integration_cursors')
    .select('position')
    .where('name', '=', NOTIFY_CURSOR)
    .executeTakeFirst();
  if (row) return Number(row.position);
  const max = await sql<{
    max: string | null;
  }>`select max(id) as max from loopwright.ticket_events`.execute(db);
  const position = Number(max.rows[0]?.max ?? 0);
  await advanceCursor(db, NOTIFY_CURSOR, position);
  return position;
}
