/**
 * Each phase change of a Linear-linked ticket is reflected in Linear: working → started ("In
 * Progress"), SHIP → review ("In Review"), LIVE → done, CANCELLED → cancelled (names configurable
 * per repo, settings.linear.states); an escalation or a dead letter becomes a comment with its
 * reason. Writes go through `effects` keyed by ticket and journal seq, so a retry never repeats
 * one.
 */
import type { LinearClient } from '@linear/sdk';
import type { Logger } from 'pino';
import type { TicketContext } from '../../../machines/ticket.js';
import type { Kdb } from '../../db/connection.js';
import { effectResult, recordEffect } from '../../db/effects.js';
import { setLinkSynced, type TicketLink } from '../../db/integrations.js';
import { getRepositoryById } from '../../db/repositories.js';
import { repoSettings } from '../../config/repo-settings.js';
import type { LinearSettings } from '../settings.js';

type Phase = keyof LinearSettings['states'];

/** Which configured Linear state a ticket state is reflected as (null: leave Linear alone). */
export function linearPhaseOf(state: string): Phase | null {
  if (state === 'LIVE') return 'done';
  if (state === 'CANCELLED') return 'cancelled';
  if (state === 'SHIP') return 'review';
  if (['PLAN_DRAFT', 'PLAN_NEGOTIATE', 'PLAN_APPROVED', 'RED', 'BUILD', 'VALIDATE'].includes(state))
    return 'started';
  return null;
}

interface LinkedTicket {
  readonly id: string;
  readonly key: string;
  readonly repo_id: string;
  readonly state: string;
  readonly version: number;
  readonly snapshot: { context: TicketContext };
  readonly link: TicketLink;
}

/** Linked tickets whose journal moved past what Linear last saw. */
async function pending(db: Kdb): Promise<LinkedTicket[]> {
  const rows = await db
    .selectFrom('loopwright.ticket_links as l')
    .innerJoin('loopwright.tickets as t', 't.id', 'l.ticket_id')
    .selectAll('l')
    .select(['t.id', 't.key', 't.repo_id', 't.state', 't.version', 't.snapshot'])
    .where('l.system', '=', 'linear')
    .whereRef('t.version', '>', 'l.synced_seq')
    .orderBy('t.id')
    .limit(100)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    key: r.key,
    repo_id: r.repo_id,
    state: r.state,
    version: r.version,
    snapshot: r.snapshot as unknown as { context: TicketContext },
    link: r as unknown as TicketLink,
  }));
}

export async function syncLinear(db: Kdb, linear: LinearClient, logger: Logger): Promise<number> {
  let synced = 0;
  for (const t of await pending(db)) {
    try {
      await syncOne(db, linear, t);
      synced += 1;
    } catch (error) {
      logger.warn({ err: error, ticket: t.key }, 'Linear sync failed; will retry');
    }
  }
  return synced;
}

async function syncOne(db: Kdb, linear: LinearClient, t: LinkedTicket): Promise<void> {
  const settings = repoSettings(await getRepositoryById(db, t.repo_id)).linear;
  const states = settings?.states ?? {
    started: 'In Progress',
    review: 'In Review',
    done: 'Done',
    cancelled: 'Canceled',
  };
  const escalations = await db
    .selectFrom('loopwright.ticket_events')
    .select(['seq', 'to_state', 'snapshot'])
    .where('ticket_id', '=', t.id)
    .where('seq', '>', t.link.synced_seq)
    .where('to_state', 'in', ['ESCALATED', 'DEAD_LETTER'])
    .orderBy('seq')
    .execute();
  for (const e of escalations) {
    const ctx = (e.snapshot as unknown as { context?: TicketContext }).context;
    const body = [
      `loopwright: ticket \`${t.key}\` ` +
        `is ${e.to_state === 'DEAD_LETTER' ? 'dead-lettered' : 'escalated'}`,
      `reason: ${ctx?.reason ?? 'unknown'}${ctx?.detail ? ` — ${ctx.detail.slice(0, 2000)}` : ''}`,
      `act: \`loopwright show ${t.key}\`, then \`loopwright retry ${t.key}\` (or approve / ` +
        `reject / cancel)`,
    ].join('\n');
    await once(db, `${t.id}:${e.seq}:linear_comment`, t.id, 'linear_comment', async () => {
      const r = await linear.createComment({ issueId: t.link.external_id, body });
      return { success: r.success };
    });
  }
  const phase = linearPhaseOf(t.state);
  const current = (t.link.data as { state?: string }).state;
  if (phase && states[phase] !== current) {
    const name = states[phase];
    await once(db, `${t.id}:${t.version}:linear_state`, t.id, 'linear_state', async () => {
      const stateId = await stateIdFor(linear, t.link, name);
      await linear.updateIssue(t.link.external_id, { stateId });
      return { state: name };
    });
    await db
      .updateTable('loopwright.ticket_links')
      .set({ data: JSON.stringify({ ...(t.link.data as object), state: name }) })
      .where('ticket_id', '=', t.id)
      .where('system', '=', 'linear')
      .execute();
  }
  await setLinkSynced(db, t.id, 'linear', t.version);
}

async function once<T>(
  db: Kdb,
  key: string,
  ticketId: string,
  kind: string,
  perform: () => Promise<T>,
) {
  return (await effectResult<T>(db, key)) ?? recordEffect(db, key, ticketId, kind, perform);
}

async function stateIdFor(linear: LinearClient, link: TicketLink, name: string): Promise<string> {
  const data = link.data as { teamId?: string | null };
  let teamId = data.teamId ?? undefined;
  if (!teamId) teamId = (await linear.issue(link.external_id)).teamId ?? undefined;
  const states = await linear.workflowStates({
    ...(teamId ? { filter: { team: { id: { eq: teamId } } } } : {}),
  });
  const found = states.nodes.find((s) => s.name.toLowerCase() === name.toLowerCase());
  if (!found)
    throw new Error(
      `Linear team has no workflow state "${name}" ` +
        `(has: ${states.nodes.map((s) => s.name).join(', ')})`,
    );
  return found.id;
}
