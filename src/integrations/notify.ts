/**
 * Notifications: a Slack-compatible incoming-webhook URL (LOOPWRIGHT_NOTIFY_WEBHOOK_URL or its
 * _FILE; off when unset) receives a summary card when a ticket escalates or dead-letters, when a
 * copilot ticket waits for a human, and when a batch's oracle says done. Each card is an effect
 * keyed by what it reports, so it is sent once.
 */
import type { Logger } from 'pino';
import type { TicketContext } from '../../machines/ticket.js';
import type { Kdb } from '../db/connection.js';
import { effectResult, recordEffect } from '../db/effects.js';
import { judgeBatch } from '../oracle/oracle.js';
import { readSecret } from './credentials.js';

export interface Card {
  readonly key: string;
  readonly ticketId: string | null;
  readonly title: string;
  readonly lines: readonly string[];
}

/** Post the card once (effects) to the configured URL; false when notifications are off. */
export async function sendCard(
  db: Kdb,
  card: Card,
  env: NodeJS.ProcessEnv = process.env,
): Promise<boolean> {
  const url = readSecret('LOOPWRIGHT_NOTIFY_WEBHOOK_URL', env);
  if (!url) return false;
  if (await effectResult(db, card.key)) return true;
  const text = [`*${card.title}*`, ...card.lines].join('\n');
  await recordEffect(db, card.key, card.ticketId as string, 'notification', async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        text,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: card.title.slice(0, 150) } },
          {
            type: 'section',
            text: { type: 'mrkdwn', text: card.lines.join('\n').slice(0, 2900) || ' ' },
          },
        ],
      }),
      signal: AbortSignal.timeout(15_000),
    });
    if (!res.ok) throw new Error(`notification webhook answered ${res.status}`);
    return { status: res.status };
  });
  return true;
}

export interface JournalRow {
  readonly id: string;
  readonly ticket_id: string;
  readonly seq: number;
  readonly to_state: string;
  readonly key: string;
  readonly batch_id: string | null;
  readonly snapshot: unknown;
}

/** The card a journal row deserves, if any (escalation, dead letter, copilot wait). */
export function cardFor(row: JournalRow): Card | null {
  const snap = row.snapshot as { value: unknown; context: TicketContext };
  const ctx = snap.context;
  const sub = typeof snap.value === 'object' && snap.value ? Object.values(snap.value)[0] : null;
  const base = { key: `${row.ticket_id}:${row.seq}:notify`, ticketId: row.ticket_id };
  if (row.to_state === 'ESCALATED' || row.to_state === 'DEAD_LETTER')
    return {
      ...base,
      title:
        `${row.key} ${row.to_state === 'ESCALATED' ? 'escalated' : 'dead-lettered'}: ` +
        (ctx.reason ?? 'unknown'),
      lines: [
        ...(ctx.detail ? [ctx.detail.slice(0, 1500)] : []),
        `Inspect: \`loopwright show ${row.key}\` · act: \`loopwright retry ${row.key}\` / ` +
          `\`approve\` / \`reject\``,
      ],
    };
  if (row.to_state === 'SHIP' && (sub === 'awaiting_approval' || sub === 'awaiting_merge'))
    return {
      ...base,
      title: `${row.key} waits for your approval (copilot)`,
      lines: [
        ...(ctx.pr ? [`Pull request: ${ctx.pr.url} — merge it on GitHub`] : []),
        `Or: \`loopwright approve ${row.key}\` to ship, \`loopwright ` +
          `reject ${row.key}\` to drop it`,
      ],
    };
  return null;
}

/** A ticket of a batch ended: if the batch's oracle now says done, its card. */
export async function batchDoneCard(db: Kdb, home: string, batchId: string): Promise<Card | null> {
  const batch = await db
    .selectFrom('loopwright.batches')
    .select(['name'])
    .where('id', '=', batchId)
    .executeTakeFirst();
  if (!batch) return null;
  const result = await judgeBatch(db, batch.name, { recheck: false, home });
  if (!result.done) return null;
  return {
    key: `batch:${batchId}:done`,
    ticketId: null,
    title: `Batch ${batch.name} is done`,
    lines: [
      (
        `${result.tickets.length} ` +
        `tickets: ${result.tickets.map((t) => `${t.key} (${t.verdict})`).join(', ')}`
      ).slice(0, 2000),
      `Review: \`loopwright oracle ${batch.name}\``,
    ],
  };
}

/** A batch can become done when one of its tickets goes LIVE or is cancelled (by a human). */
const BATCH_ENDINGS: ReadonlySet<string> = new Set(['LIVE', 'CANCELLED']);

/**
 * Follow the journal from `after`: send the cards of new rows; returns the last row id seen. A
 * card that cannot be delivered stops the pass there (the cursor stays before it), so the next
 * pass retries it; a card already delivered is an effect and is never sent again.
 */
export async function notifyFromJournal(
  db: Kdb,
  home: string,
  after: number,
  logger: Logger,
): Promise<number> {
  const rows = (await db
    .selectFrom('loopwright.ticket_events as e')
    .innerJoin('loopwright.tickets as t', 't.id', 'e.ticket_id')
    .select(['e.id', 'e.ticket_id', 'e.seq', 'e.to_state', 'e.snapshot', 't.key', 't.batch_id'])
    .where('e.id', '>', String(after))
    .orderBy('e.id')
    .limit(200)
    .execute()) as JournalRow[];
  let last = after;
  for (const row of rows) {
    const card =
      cardFor(row) ??
      (BATCH_ENDINGS.has(row.to_state) && row.batch_id
        ? await batchDoneCard(db, home, row.batch_id)
        : null);
    if (card) {
      try {
        await sendCard(db, card);
      } catch (error) {
        logger.warn({ err: error, card: card.key }, 'Notification failed; will retry');
        return last;
      }
    }
    last = Number(row.id);
  }
  return last;
}
