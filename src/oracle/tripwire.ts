/**
 * The tripwire: a batch's pins are taken when its first ticket starts; every scheduling pass
 * recomputes them, and a difference stops the batch (VERIFIER_CHANGED) until a human repins it.
 * Work of a stopped batch is not dispatched: its tickets escalate with VERIFIER_CHANGED instead.
 */
import type { Logger } from 'pino';
import {
  lockBatch,
  recordBatchEvent,
  stopBatch,
  storePins,
  getBatchByName,
} from '../db/batches.js';
import type { Kdb } from '../db/connection.js';
import { applyEvent } from '../engine/apply-event.js';
import { inTransaction } from '../engine/transaction.js';
import { BadInputError } from '../errors.js';
import { changedPins, computePins, type Pins } from './pins.js';

/** Pin a batch if it has no pins yet (called when one of its tickets starts). */
export async function ensureBatchPinned(trx: Kdb, batchId: string): Promise<void> {
  const batch = await lockBatch(trx, batchId);
  if (batch.pins) return;
  const pins = await computePins(trx, batchId);
  await storePins(trx, batchId, pins);
  await recordBatchEvent(trx, { batchId, type: 'PINNED', actor: 'scheduler', pins });
}

/** Recompute every open, pinned batch's pins; stop the ones that changed. Returns their names. */
export async function checkTripwires(db: Kdb, logger?: Logger): Promise<string[]> {
  const open = await db
    .selectFrom('loopwright.batches')
    .select(['id'])
    .where('status', '=', 'open')
    .where('pins', 'is not', null)
    .execute();
  const stopped: string[] = [];
  for (const batch of open) {
    const name = await checkTripwire(db, batch.id, logger);
    if (name) stopped.push(name);
  }
  return stopped;
}

/** Recompute one batch's pins and stop it if they changed; returns its name when it stopped it. */
export async function checkTripwire(
  db: Kdb,
  batchId: string,
  logger?: Logger,
): Promise<string | null> {
  const batch = await db
    .selectFrom('loopwright.batches')
    .select(['name', 'pins', 'status'])
    .where('id', '=', batchId)
    .executeTakeFirstOrThrow();
  if (batch.status !== 'open' || !batch.pins) return null;
  const changed = changedPins(batch.pins as Pins, await computePins(db, batchId));
  if (changed.length === 0) return null;
  const stoppedNow = await inTransaction(db, async (trx) => {
    const locked = await lockBatch(trx, batchId);
    if (locked.status !== 'open') return false;
    await stopBatch(trx, batchId, `VERIFIER_CHANGED: ${changed.join(', ')}`);
    await recordBatchEvent(trx, { batchId, type: 'VERIFIER_CHANGED', actor: 'tripwire', changed });
    return true;
  });
  if (!stoppedNow) return null;
  logger?.warn({ batch: batch.name, changed }, 'Batch stopped: what defines done has changed');
  return batch.name;
}

/**
 * Why the ticket's batch is stopped (re-checking its pins first), or null when its work may be
 * dispatched.
 */
export async function batchStopped(db: Kdb, batchId: string | null): Promise<string | null> {
  if (batchId === null) return null;
  await checkTripwire(db, batchId);
  const row = await db
    .selectFrom('loopwright.batches')
    .select(['status', 'stop_reason'])
    .where('id', '=', batchId)
    .executeTakeFirst();
  return row?.status === 'stopped' ? (row.stop_reason ?? 'VERIFIER_CHANGED') : null;
}

export interface RepinResult {
  readonly batch: string;
  readonly changed: readonly string[];
  readonly retried: readonly string[];
}

/**
 * A human accepts the new definition of done: new pins, the batch reopens, and tickets it
 * escalated with VERIFIER_CHANGED are retried. Journaled with the operator as actor.
 */
export async function repinBatch(
  db: Kdb,
  name: string,
  actor: string,
  reason: string,
): Promise<RepinResult> {
  if (!reason.trim())
    throw new BadInputError('repin needs --reason: say why the new definition of done is right');
  const batch = await getBatchByName(db, name);
  const pins = await computePins(db, batch.id);
  const changed = batch.pins ? changedPins(batch.pins as Pins, pins) : Object.keys(pins);
  await inTransaction(db, async (trx) => {
    await lockBatch(trx, batch.id);
    await storePins(trx, batch.id, pins);
    await recordBatchEvent(trx, {
      batchId: batch.id,
      type: 'REPINNED',
      actor,
      reason,
      pins,
      changed,
    });
  });
  const escalated = await db
    .selectFrom('loopwright.tickets')
    .select(['id', 'key', 'snapshot'])
    .where('batch_id', '=', batch.id)
    .where('state', '=', 'ESCALATED')
    .orderBy('id')
    .execute();
  const retried: string[] = [];
  for (const t of escalated) {
    if ((t.snapshot.context as { reason?: string }).reason !== 'VERIFIER_CHANGED') continue;
    const outcome = await applyEvent(
      db,
      { id: t.id },
      { type: 'RETRY', reason: `batch repinned: ${reason}` },
      { actor },
    );
    if (outcome.status === 'applied') retried.push(t.key);
  }
  return { batch: name, changed, retried };
}
