/**
 * The done-oracle (DESIGN.md section 7): a batch is done iff every ticket is LIVE — re-verified
 * from
 * external truth: its merge commit is reachable from the repository's base branch and the
 * orchestrator's own live check passed on it (`recheck` runs the live check again on the base tip)
 * —
 * or explicitly human-gated. It reads no agent report, and it refuses to say done while the batch's
 * pins (gate settings, validator charter, this code) differ from what was pinned.
 */
import type { Kdb } from '../db/connection.js';
import { getBatchByName } from '../db/batches.js';
import { getRepositoryById, type Repository } from '../db/repositories.js';
import { isMergedInto, runCommandGate, git, withScratchCheckout } from '../workspace/index.js';
import { changedPins, computePins, type Pins } from './pins.js';

export type TicketVerdict = 'live' | 'human-gated' | 'missing';

export interface OracleTicket {
  readonly key: string;
  readonly state: string;
  readonly verdict: TicketVerdict;
  readonly why: readonly string[];
}

export interface OracleResult {
  readonly batch: string;
  readonly done: boolean;
  /** Why the batch as a whole is not done (pins changed, stopped, empty). */
  readonly blockers: readonly string[];
  readonly tickets: readonly OracleTicket[];
}

interface TicketRow {
  readonly id: string;
  readonly key: string;
  readonly state: string;
  readonly repo_id: string;
  readonly snapshot: { context: Record<string, unknown> };
}

export async function judgeBatch(
  db: Kdb,
  name: string,
  options: { recheck: boolean; home: string },
): Promise<OracleResult> {
  const batch = await getBatchByName(db, name);
  const blockers: string[] = [];
  if (batch.status === 'stopped')
    blockers.push(
      `batch stopped: ${batch.stop_reason ?? 'VERIFIER_CHANGED'} (a human must run: ` +
        `loopwright batch repin ${name} --reason ...)`,
    );
  if (batch.pins) {
    const changed = changedPins(batch.pins as Pins, await computePins(db, batch.id));
    if (changed.length > 0)
      blockers.push(`VERIFIER_CHANGED: ${changed.join(', ')} differ from the batch's pins`);
  }
  const tickets = (await db
    .selectFrom('loopwright.tickets')
    .select(['id', 'key', 'state', 'repo_id', 'snapshot'])
    .where('batch_id', '=', batch.id)
    .orderBy('id')
    .execute()) as TicketRow[];
  if (tickets.length === 0) blockers.push('the batch has no tickets');
  const repos = new Map<string, Repository>();
  const judged: OracleTicket[] = [];
  for (const t of tickets) {
    if (!repos.has(t.repo_id)) repos.set(t.repo_id, await getRepositoryById(db, t.repo_id));
    judged.push(await judgeTicket(db, t, repos.get(t.repo_id)!, options));
  }
  const done = blockers.length === 0 && judged.every((t) => t.verdict !== 'missing');
  return { batch: name, done, blockers, tickets: judged };
}

async function judgeTicket(
  db: Kdb,
  t: TicketRow,
  repo: Repository,
  options: { recheck: boolean; home: string },
): Promise<OracleTicket> {
  const verdict = (v: TicketVerdict, ...why: string[]): OracleTicket => ({
    key: t.key,
    state: t.state,
    verdict: v,
    why,
  });
  if (t.state === 'CANCELLED') {
    const by = await lastActor(db, t.id);
    return by.startsWith('operator:')
      ? verdict('human-gated', `cancelled by ${by}`)
      : verdict('missing', `cancelled by ${by}, not by a human`);
  }
  if (t.state !== 'LIVE') return verdict('missing', `state is ${t.state}`);
  const ctx = t.snapshot.context as { mergeCommit?: string | null; humanGated?: boolean };
  const problems: string[] = [];
  if (!ctx.mergeCommit) problems.push('no merge commit recorded');
  else if (!(await isMergedInto(repo.path, ctx.mergeCommit, repo.base_branch)))
    problems.push(
      `merge commit ${ctx.mergeCommit.slice(0, 12)} is not reachable from ${repo.base_branch}`,
    );
  const live = await liveEvidence(db, t.id, ctx.mergeCommit ?? null);
  if (!live && !ctx.humanGated)
    problems.push('no passing live check by the orchestrator on the merge commit');
  if (options.recheck && ctx.mergeCommit) {
    const tip = await git(repo.path, ['rev-parse', repo.base_branch]);
    const command = repo.live_cmd ?? repo.test_cmd ?? 'npm test';
    const rerun = await withScratchCheckout(
      repo.path,
      tip,
      (dir) => runCommandGate(command, dir, { timeoutMs: 10 * 60_000 }),
      { home: options.home },
    );
    if (!rerun.passed)
      problems.push(
        `live check \`${command}\` fails now on ${repo.base_branch} ${tip.slice(0, 12)}`,
      );
  }
  if (problems.length > 0) return verdict('missing', ...problems);
  return ctx.humanGated && !live
    ? verdict('human-gated', 'a human approved past the live check')
    : verdict('live', `merged ${ctx.mergeCommit!.slice(0, 12)}, live check passed`);
}

/** The orchestrator's own LIVE gate result for this commit (never an agent's report). */
async function liveEvidence(db: Kdb, ticketId: string, commit: string | null): Promise<boolean> {
  if (!commit) return false;
  const rows = await db
    .selectFrom('loopwright.artifacts')
    .select('content')
    .where('ticket_id', '=', ticketId)
    .where('kind', '=', 'gate_result')
    .orderBy('id', 'desc')
    .execute();
  return rows.some((r) => {
    const g = JSON.parse(r.content) as { gate?: string; commit?: string; passed?: boolean };
    return g.gate === 'LIVE' && g.commit === commit && g.passed === true;
  });
}

async function lastActor(db: Kdb, ticketId: string): Promise<string> {
  const row = await db
    .selectFrom('loopwright.ticket_events')
    .select('actor')
    .where('ticket_id', '=', ticketId)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.actor ?? 'unknown';
}
