/**
 * Discovered work (DESIGN.md section 6): tickets an agent reports finding while doing its own.
 * They are filed with their dependency edges in the same transaction as the event that carried
 * them, journaled with their origin, and a blocking one moves the parent to BLOCKED until it is
 * LIVE. An unknown repository or a dependency cycle refuses that item with a NOTE on the parent's
 * journal — never a crash, and never a half-filed ticket.
 */
import type { TicketEventInput } from '../../machines/ticket.js';
import type { Kdb } from '../db/connection.js';
import { addDependencies, findPath } from '../db/dependencies.js';
import { getRepositoryByName } from '../db/repositories.js';
import { getTicket, type Ticket, type TicketRef } from '../db/tickets.js';
import { BadInputError } from '../errors.js';
import { applyEventIn, type ApplyEventOptions, type ApplyOutcome } from './apply-event.js';
import { createTicketIn } from './create-ticket.js';
import { inTransaction } from './transaction.js';

export interface DiscoveredItem {
  readonly title: string;
  readonly body?: string;
  /** Repository name; defaults to the parent's. */
  readonly repo?: string;
  /** The parent cannot finish before this is LIVE. */
  readonly blocking?: boolean;
  readonly tags?: readonly string[];
  /** Keys the new ticket itself waits for. */
  readonly dependsOn?: readonly string[];
}

export interface DiscoveryOutcome {
  readonly outcome: ApplyOutcome;
  readonly filed: readonly string[];
  readonly refused: readonly string[];
}

/** Apply a run's result event and file the work it discovered, atomically. */
export async function applyWithDiscoveries(
  db: Kdb,
  ref: TicketRef,
  event: TicketEventInput,
  options: ApplyEventOptions & { runId: string | null },
  items: readonly DiscoveredItem[],
): Promise<DiscoveryOutcome> {
  return inTransaction(db, async (trx) => {
    const outcome = await applyEventIn(trx, ref, event, options);
    if (outcome.status !== 'applied' || outcome.duplicate || items.length === 0)
      return { outcome, filed: [], refused: [] };
    const parent = await getTicket(trx, ref);
    const filed: string[] = [];
    const blockers: string[] = [];
    const refused: string[] = [];
    for (const item of items) {
      try {
        const key = await fileOne(trx, parent, item, options.runId);
        filed.push(key);
        if (item.blocking) blockers.push(key);
      } catch (error) {
        if (!(error instanceof BadInputError)) throw error;
        refused.push(`${item.title}: ${error.message}`);
      }
    }
    const note = [
      filed.length
        ? `discovered: ${filed
            .map((k) => (blockers.includes(k) ? `${k} (blocking)` : k))
            .join(', ')}`
        : '',
      ...refused.map((r) => `discovered work refused: ${r}`),
    ]
      .filter(Boolean)
      .join('\n');
    await applyEventIn(
      trx,
      { id: parent.id },
      { type: 'NOTE', text: note.slice(0, 4000) },
      { actor: options.actor },
    );
    if (blockers.length)
      await applyEventIn(
        trx,
        { id: parent.id },
        { type: 'BLOCK', blockers },
        { actor: options.actor },
      );
    return { outcome, filed, refused };
  });
}

/** Validate one item completely, then write it; a BadInputError means nothing was written. */
async function fileOne(
  trx: Kdb,
  parent: Ticket,
  item: DiscoveredItem,
  runId: string | null,
): Promise<string> {
  const repoName =
    item.repo ??
    (
      await trx
        .selectFrom('loopwright.repositories')
        .select('name')
        .where('id', '=', parent.repo_id)
        .executeTakeFirstOrThrow()
    ).name;
  await getRepositoryByName(trx, repoName);
  const deps = await Promise.all((item.dependsOn ?? []).map((key) => getTicket(trx, key)));
  if (item.blocking) {
    for (const dep of deps) {
      const path = dep.id === parent.id ? [parent.key] : await findPath(trx, dep.id, parent.id);
      if (path)
        throw new BadInputError(
          `dependency cycle: ${parent.key} -> (new) -> ${path.join(' -> ')}`,
          { code: 'DEPENDENCY_CYCLE' },
        );
    }
  }
  const batch = parent.batch_id
    ? (
        await trx
          .selectFrom('loopwright.batches')
          .select('name')
          .where('id', '=', parent.batch_id)
          .executeTakeFirstOrThrow()
      ).name
    : undefined;
  const created = await createTicketIn(trx, {
    repo: repoName,
    title: item.title,
    body: item.body ?? '',
    tags: item.tags ?? [],
    dependsOn: deps.map((d) => d.key),
    ...(batch ? { batch } : {}),
    actor: `agent:discovered:${parent.key}`,
    originTicketId: parent.id,
    origin: { ticket: parent.key, runId, blocking: item.blocking === true },
  });
  if (item.blocking) await addDependencies(trx, parent.id, [created.id]);
  return created.key;
}
