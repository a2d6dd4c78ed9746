/**
 * The repositories this process filed tickets into lately, each with ticket ids drawn ahead, so
 * filing the next ticket there is one statement instead of a look-up and a write
 * (src/engine/create-ticket.ts). An entry is only a guess: the filing statement checks that the
 * repository is still active, named and configured as remembered, and writes nothing otherwise;
 * the filer then forgets it and looks the repository up again. Ids drawn but never used are gaps
 * in the ticket id sequence, as a rolled-back filing leaves. One map per pool.
 */
import type pg from 'pg';
import type { FilingRepository } from '../db/ticket-filing.js';

/** Ticket ids drawn per look-up: the look-up's cost is shared by this many filings. */
export const IDS_DRAWN_AHEAD = 16;
/** Repositories kept per pool. */
const KNOWN_REPOSITORY_LIMIT = 256;

interface KnownRepository {
  readonly repo: FilingRepository;
  readonly spareIds: string[];
}

const POOLS = new WeakMap<pg.Pool, Map<string, KnownRepository>>();

/** A remembered repository and an unused ticket id for it (taken), if there is one. */
export function takeKnownRepository(
  pool: pg.Pool,
  name: string,
): { repo: FilingRepository; ticketId: string } | undefined {
  const known = POOLS.get(pool)?.get(name);
  const ticketId = known?.spareIds.shift();
  return known && ticketId ? { repo: known.repo, ticketId } : undefined;
}

/** Remember a repository as read, with the ids drawn beyond the one used now. */
export function rememberRepository(
  pool: pg.Pool,
  repo: FilingRepository,
  spareIds: readonly string[],
): void {
  let known = POOLS.get(pool);
  if (!known) POOLS.set(pool, (known = new Map()));
  if (!known.has(repo.name) && known.size >= KNOWN_REPOSITORY_LIMIT) known.clear();
  known.set(repo.name, { repo, spareIds: [...spareIds] });
}

/** Drop a guess the database refused. */
export function forgetRepository(pool: pg.Pool, name: string): void {
  POOLS.get(pool)?.delete(name);
}
