/**
 * Filing a ticket in two statements: the repository it goes to (with the new ticket's id drawn
 * from its identity sequence, so the jobs can name it), then one statement that reserves the
 * number and writes the ticket row, journal row 1 and the creation's jobs.
 */
import { NotFoundError } from '../errors.js';
import type { Repository } from './repositories.js';
import { addJobsText, type JobSpec, NO_JOBS_TEXT } from './ticket-rows.js';
import type { Statement, TxSession } from './tx-session.js';

/** The repository columns filing reads. */
export type FilingRepository = Pick<Repository, 'id' | 'name' | 'mode' | 'settings'>;

/** An active repository by name and an id for the ticket about to be filed in it. */
export async function repositoryForFiling(
  session: TxSession,
  name: string,
): Promise<{ repo: FilingRepository; ticketId: string }> {
  const [row] = await session.query<FilingRepository & { ticket_id: string }>({
    name: 'lw_repository_for_filing',
    text: `select id, name, mode, settings,
        nextval(pg_get_serial_sequence('loopwright.tickets', 'id'))::text as ticket_id
      from loopwright.repositories where name = $1 and removed_at is null`,
    values: [name],
  });
  if (!row) throw new NotFoundError('repo', name);
  const { ticket_id: ticketId, ...repo } = row;
  return { repo, ticketId };
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
    ],
  };
}

const fileTicketText = (jobs: string) => `
  with number as (
    update loopwright.repositories set next_ticket_number = next_ticket_number + 1
    where id = $1::bigint returning next_ticket_number - 1 as n
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

const FILE_WITH_JOBS = fileTicketText(addJobsText('$15'));
const FILE_WITHOUT_JOBS = fileTicketText(NO_JOBS_TEXT);
