/**
 * BLOCKED tickets resume once every blocker they named is LIVE.
 */
import { sql } from 'kysely';
import type { Kdb } from '../db/connection.js';
import { applyEvent } from '../engine/apply-event.js';

export async function unblockReady(db: Kdb): Promise<string[]> {
  const { rows } = await sql<{ id: string; key: string; version: number }>`
    select t.id, t.key, t.version from loopwright.tickets t
    where t.state = 'BLOCKED'
      and not exists (
        select 1 from jsonb_array_elements_text(t.snapshot -> 'context' -> 'blockers') as b(key)
        left join loopwright.tickets dep on dep.key = b.key
        where dep.state is distinct from 'LIVE')`.execute(db);
  const resumed: string[] = [];
  for (const t of rows) {
    const outcome = await applyEvent(
      db,
      { id: t.id },
      { type: 'UNBLOCK' },
      { actor: 'scheduler', idempotencyKey: `unblock:${t.id}:${t.version}` },
    );
    if (outcome.status === 'applied' && !outcome.duplicate) resumed.push(t.key);
  }
  return resumed;
}
