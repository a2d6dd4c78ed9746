/**
 * What `loopwright status` shows, in one statement on a plain pg pool (no kysely: the command's
 * start-up is most of its time): registered repositories, ticket counts per repository and
 * state, and tickets whose merge waits for the user's checkout.
 */
import type pg from 'pg';

export interface StatusReading {
  /** Registered repositories by name, with their stored settings (for the ship modes). */
  readonly repos: readonly { name: string; settings: unknown }[];
  readonly counts: readonly { repo: string; state: string; tickets: number }[];
  readonly waiting: readonly { ticket: string; detail: string }[];
}

const STATUS_SQL = `select
  (select coalesce(json_agg(json_build_object('name', name, 'settings', settings) order by name),
            '[]'::json)
     from loopwright.repositories where removed_at is null) as repos,
  (select coalesce(json_agg(json_build_object('repo', r.name, 'state', c.state, 'tickets', c.n)
            order by r.name, c.state), '[]'::json)
     from (select repo_id, state, count(*)::int as n from loopwright.tickets group by 1, 2) c
     join loopwright.repositories r on r.id = c.repo_id) as counts,
  (select coalesce(json_agg(json_build_object('ticket', key,
            'detail', coalesce(snapshot -> 'context' ->> 'detail', '')) order by key), '[]'::json)
     from loopwright.tickets where state = 'SHIP' and substate = 'waiting_checkout') as waiting`;

/** One round trip. */
export async function readStatus(pool: pg.Pool): Promise<StatusReading> {
  const { rows } = await pool.query<StatusReading>(STATUS_SQL);
  return rows[0]!;
}
