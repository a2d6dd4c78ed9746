/**
 * Converting between xstate snapshots and what Postgres stores (`{ value, context }`), and a
 * canonical JSON form so snapshots can be compared regardless of jsonb's key order.
 */
import { ticketMachine, type TicketContext } from '../../machines/ticket.js';
import type { PersistedSnapshot } from '../db/schema.js';

export type TicketSnapshot = ReturnType<typeof ticketMachine.resolveState>;

/** The storable part of a snapshot. */
export function persistSnapshot(snapshot: TicketSnapshot): PersistedSnapshot {
  return JSON.parse(
    JSON.stringify({ value: snapshot.value, context: snapshot.context }),
  ) as PersistedSnapshot;
}

/** Rebuild a live snapshot from a stored one, through the current machine. */
export function restoreSnapshot(stored: PersistedSnapshot): TicketSnapshot {
  return ticketMachine.resolveState({
    value: stored.value as never,
    context: stored.context as unknown as TicketContext,
  });
}

/** JSON with object keys sorted at every level: equal data gives equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
