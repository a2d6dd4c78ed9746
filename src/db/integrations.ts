/**
 * Rows of the integrations (migrations/0008_integrations.sql): webhook deliveries, a ticket's
 * external links (Linear issue, GitHub PR), the polling fallback's ETags and backoff, and the
 * journal followers' cursors.
 */
import { sql, type Selectable } from 'kysely';
import type { Kdb } from './connection.js';
import type { TicketLinksTable, WebhookDeliveriesTable } from './schema.js';

export type WebhookDelivery = Selectable<WebhookDeliveriesTable>;
export type TicketLink = Selectable<TicketLinksTable>;
export type LinkSystem = TicketLinksTable['system'];

/**
 * Store an accepted delivery; null when this delivery id was already stored (a replay), in which
 * case nothing was written.
 */
export async function insertDelivery(
  db: Kdb,
  d: { source: 'github' | 'linear'; deliveryId: string; event: string; payload: object },
): Promise<WebhookDelivery | null> {
  const row = await db
    .insertInto('loopwright.webhook_deliveries')
    .values({
      source: d.source,
      delivery_id: d.deliveryId,
      event: d.event,
      payload: JSON.stringify(d.payload),
    })
    .onConflict((oc) => oc.columns(['source', 'delivery_id']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return row ?? null;
}

export async function getDelivery(db: Kdb, id: string): Promise<WebhookDelivery | undefined> {
  return db
    .selectFrom('loopwright.webhook_deliveries')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function markDeliveryProcessed(db: Kdb, id: string, outcome: string): Promise<void> {
  await db
    .updateTable('loopwright.webhook_deliveries')
    .set({ processed_at: sql`now()`, outcome: outcome.slice(0, 500) })
    .where('id', '=', id)
    .execute();
}

/** Link a ticket to its external counterpart (idempotent; the row is updated in place). */
export async function upsertLink(
  db: Kdb,
  link: {
    ticketId: string;
    system: LinkSystem;
    externalId: string;
    externalKey?: string | null;
    url?: string | null;
    data?: Record<string, unknown>;
  },
): Promise<void> {
  await db
    .insertInto('loopwright.ticket_links')
    .values({
      ticket_id: link.ticketId,
      system: link.system,
      external_id: link.externalId,
      external_key: link.externalKey ?? null,
      url: link.url ?? null,
      data: JSON.stringify(link.data ?? {}),
    })
    .onConflict((oc) =>
      oc.columns(['ticket_id', 'system']).doUpdateSet({
        external_id: link.externalId,
        external_key: link.externalKey ?? null,
        url: link.url ?? null,
        // A re-publish records what it pushed now (the merge must find that head).
        ...(link.data ? { data: JSON.stringify(link.data) } : {}),
      }),
    )
    .execute();
}

export async function linkByExternal(
  db: Kdb,
  system: LinkSystem,
  externalId: string,
): Promise<TicketLink | undefined> {
  return db
    .selectFrom('loopwright.ticket_links')
    .selectAll()
    .where('system', '=', system)
    .where('external_id', '=', externalId)
    .executeTakeFirst();
}

export async function linkOfTicket(
  db: Kdb,
  ticketId: string,
  system: LinkSystem,
): Promise<TicketLink | undefined> {
  return db
    .selectFrom('loopwright.ticket_links')
    .selectAll()
    .where('ticket_id', '=', ticketId)
    .where('system', '=', system)
    .executeTakeFirst();
}

export async function setLinkSynced(
  db: Kdb,
  ticketId: string,
  system: LinkSystem,
  seq: number,
): Promise<void> {
  await db
    .updateTable('loopwright.ticket_links')
    .set({ synced_seq: seq })
    .where('ticket_id', '=', ticketId)
    .where('system', '=', system)
    .where('synced_seq', '<', seq)
    .execute();
}

export interface PollState {
  readonly etag: string | null;
  readonly failures: number;
  readonly due: boolean;
}

export async function pollState(db: Kdb, key: string): Promise<PollState> {
  const row = await db
    .selectFrom('loopwright.poll_state')
    .select(['etag', 'failures', sql<boolean>`next_poll_at <= now()`.as('due')])
    .where('key', '=', key)
    .executeTakeFirst();
  return row ?? { etag: null, failures: 0, due: true };
}

/** Record a poll: its ETag, and when to poll next (backoff grows with consecutive failures). */
export async function recordPoll(
  db: Kdb,
  key: string,
  p: { etag: string | null; failures: number; nextInSeconds: number },
): Promise<void> {
  const next = sql<Date>`now() + make_interval(secs => ${p.nextInSeconds})`;
  await db
    .insertInto('loopwright.poll_state')
    .values({ key, etag: p.etag, failures: p.failures, next_poll_at: next })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        etag: p.etag,
        failures: p.failures,
        next_poll_at: next,
        updated_at: sql`now()`,
      }),
    )
    .execute();
}

export async function cursorPosition(db: Kdb, name: string): Promise<number> {
  const row = await db
    .selectFrom('loopwright.integration_cursors')
    .select('position')
    .where('name', '=', name)
    .executeTakeFirst();
  return row ? Number(row.position) : 0;
}

export async function advanceCursor(db: Kdb, name: string, position: number): Promise<void> {
  await db
    .insertInto('loopwright.integration_cursors')
    .values({ name, position: String(position) })
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({ position: String(position), updated_at: sql`now()` }),
    )
    .execute();
}

/**
 * The commit VALIDATE's gates judged for the ticket's latest verdict: the GREEN gate of the run
 * that wrote it (the branch tip that run tested); null when no verdict run recorded one.
 */
export async function judgedCommit(db: Kdb, ticketId: string): Promise<string | null> {
  const rows = await db
    .selectFrom('loopwright.artifacts as v')
    .innerJoin('loopwright.artifacts as g', (j) =>
      j.onRef('g.run_id', '=', 'v.run_id').on('g.kind', '=', 'gate_result'),
    )
    .select(['v.id as verdict', 'g.content'])
    .where('v.ticket_id', '=', ticketId)
    .where('v.kind', '=', 'verdict')
    .orderBy('v.id', 'desc')
    .orderBy('g.id', 'desc')
    .limit(50)
    .execute();
  // Gate results are JSON written by the orchestrator (src/phases/evaluate.ts).
  for (const { verdict, content } of rows) {
    if (verdict !== rows[0]!.verdict) break;
    const gate = JSON.parse(content) as { gate?: string; commit?: string };
    if (gate.gate === 'GREEN' && gate.commit) return gate.commit;
  }
  return null;
}
