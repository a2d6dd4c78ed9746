/**
 * What waits for a person: copilot tickets awaiting approval before merge, escalations with their
 * reason codes, and dead letters with the validation errors that put them there.
 */
import { sql } from 'kysely';
import type { TicketHeadline } from './board.js';
import type { Kdb } from './connection.js';

export type AttentionKind = 'approval' | 'escalation' | 'dead_letter';

/** One ticket waiting for a human decision. */
export interface AttentionItem extends TicketHeadline {
  readonly kind: AttentionKind;
  readonly reason: string | null;
  readonly detail: string | null;
  /** For dead letters: the report validation errors of the last REPORT_INVALID row. */
  readonly errors: readonly string[];
  readonly since: Date;
  /** The ticket's version: the buttons are fenced on it. */
  readonly version: number;
}

/** Every ticket waiting for a person, oldest wait first. */
export async function loadAttention(db: Kdb): Promise<AttentionItem[]> {
  const rows = await sql<Omit<AttentionItem, 'errors'> & { errors: unknown }>`
    select case
        when t.state = 'SHIP' then 'approval'
        when t.state = 'ESCALATED' then 'escalation'
        else 'dead_letter' end as kind,
      t.key, t.title, r.name as repo, b.name as batch, t.state, t.substate,
      t.snapshot -> 'context' ->> 'reason' as reason,
      t.snapshot -> 'context' ->> 'detail' as detail,
      case when t.state = 'DEAD_LETTER' then (
        select e.event -> 'errors' from loopwright.ticket_events e
        where e.ticket_id = t.id and e.event_type = 'REPORT_INVALID'
        order by e.seq desc limit 1) end as errors,
      t.state_changed_at as since, t.version
    from loopwright.tickets t
    join loopwright.repositories r on r.id = t.repo_id
    left join loopwright.batches b on b.id = t.batch_id
    where t.state in ('ESCALATED', 'DEAD_LETTER')
       or (t.state = 'SHIP' and t.substate = 'awaiting_approval')
    order by t.state_changed_at, t.id`.execute(db);
  return rows.rows.map((row) => ({
    ...row,
    errors: Array.isArray(row.errors) ? row.errors.map(String) : [],
  }));
}
