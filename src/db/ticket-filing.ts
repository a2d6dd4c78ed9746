/**
 * Filing a ticket in two statements: the repository it goes to (with the new ticket's id drawn
 * from its identity sequence, so the jobs can name it), then one statement that reserves the
 * number and writes the ticket row, journal row 1 and the creation's jobs. A filer that knows the
 * repository and holds an id drawn ahead sends the second alone, guarded: it writes nothing
 * unless the repository still is as the filer saw it (src/engine/known-repositories.ts).
 */
import { NotFoundError } from '../errors.js';
import type { Repository } from './repositories.js';
import { type JobSpec, NO_JOBS_TEXT, quietAddJobsText } from './ticket-rows.js';
import type { Statement, TxSession } from './tx-session.js';

/** The repository columns filing reads. */
export type FilingRepository = Pick<Repository, 'id' | 'name' | 'mode' | 'settings'>;

/**
 * An active repository by name and `ids` ids for tickets about to be filed (the first is this
 * filing's; the rest a filer may keep for its next ones).
 */
export async function repositoryForFiling(
  session: TxSession,
  name: string,
  ids = 1,
): Promise<{ repo: FilingRepository; ticketIds: string[] }> {
  const [row] = await session.query<FilingRepository & { ticket_ids: string[] }>({
    name: 'lw_repository_for_filing',
    text: `select id, name, mode, settings, array(
        select nextval(pg_get_serial_sequence('loopwright.tickets', 'id'))::text
        from generate_series(1, $2::int)) as ticket_ids
      from loopwright.repositories where name = $1 and removed_at is null`,
    values: [name, ids],
  });
  if (!row) throw new NotFoundError('repo', name);
  const { ticket_ids: ticketIds, ...repo } = row;
  return { repo, ticketIds };
}

export interface TicketFiling {
  readonly ticketId: string;
  readonly repo: FilingRepository;
  readonly batchId: string | null;
  readonly originTicketId: string | null;
  readonly title: string;
  readonly body: string;
  readonly priority: number;
  readonly tags: readonly string[];
  /** The initial snapshot as JSON text. */
  readonly snapshotJson: string;
  readonly machineVersion: string;
  /** The CREATED row's event (the machine input, the origin). */
  readonly event: unknown;
  readonly actor: string;
  readonly actions: unknown;
  readonly jobs: readonly JobSpec[];
  /**
   * File only if the repository is still active, named, in the mode and with the settings of
   * `repo` (the filer did not read it in this transaction); otherwise the statement writes
   * nothing and returns no row.
   */
  readonly guarded?: boolean;
}

/**
 * Reserve the repository's next number and write the QUEUED ticket, its CREATED row and its jobs;
 * returns the ticket's key and the job ids.
 */
export function fileTicketStatement(f: TicketFiling): Statement {
  const jobs = f.jobs.length > 0;
  return {
    name: jobs ? 'lw_file_ticket_jobs' : 'lw_file_ticket',
    text: jobs ? FILE_WITH_JOBS : FILE_WITHOUT_JOBS,
    values: [
      f.repo.id,
      f.ticketId,
      f.repo.name,
      f.batchId,
      f.originTicketId,
      f.title,
      f.body,
      f.priority,
      [...f.tags],
      f.snapshotJson,
      f.machineVersion,
      JSON.stringify(f.event),
      f.actor,
      JSON.stringify(f.actions),
      ...(jobs ? [JSON.stringify(f.jobs)] : []),
      f.guarded ? f.repo.mode : null,
      f.guarded ? JSON.stringify(f.repo.settings) : null,
    ],
  };
}

/** `$mode`/`$settings` name the guard's parameters (null: no guard). */
const fileTicketText = (jobs: string, mode: string, settings: string) => `
  with number as (
    update loopwright.repositories set next_ticket_number = next_ticket_number + 1
    where id = $1::bigint and (${mode}::text is null or (name = $3 and mode = ${mode}::text
      and settings = ${settings}::jsonb and removed_at is null))
    returning next_ticket_number - 1 as n
  ), ticket as (
    insert into loopwright.tickets (id, key, repo_id, number, batch_id, origin_ticket_id, title,
      body, priority, tags, state, substate, snapshot, version, machine_version)
    overriding system value
    select $2::bigint, $3 || '-' || n, $1::bigint, n, $4::bigint, $5::bigint, $6, $7, $8::int,
      $9::text[], 'QUEUED', null, $10::jsonb, 1, $11
    from number
    returning id, key, xmin::text as xmin
  ), journal as (
    insert into loopwright.ticket_events
      (ticket_id, seq, event_type, event, from_state, to_state, actor, idempotency_key,
        snapshot, actions)
    select id, 1, 'CREATED', $12::jsonb, null, 'QUEUED', $13, null, $10::jsonb, $14::jsonb
    from ticket
  ), jobs as (${jobs})
  select key, xmin, array(select id::text from jobs) as "jobIds" from ticket`;

// The jobs run once per filed ticket: none when the guard refused.
const FILE_WITH_JOBS = fileTicketText(quietAddJobsText('$15', 'ticket'), '$16', '$17');
const FILE_WITHOUT_JOBS = fileTicketText(NO_JOBS_TEXT, '$15', '$16');
