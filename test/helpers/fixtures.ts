/**
 * Small builders for engine tests: a registered repository and tickets driven to a given phase.
 */
import { randomUUID } from 'node:crypto';
import type { TicketEventInput } from '../../machines/ticket.js';
import type { Kdb } from '../../src/db/connection.js';
import { insertRepository, type Repository } from '../../src/db/repositories.js';
import { getTicket } from '../../src/db/tickets.js';
import { applyEvent } from '../../src/engine/apply-event.js';
import { createTicket } from '../../src/engine/create-ticket.js';

export async function addRepo(
  db: Kdb,
  name = `r${randomUUID().slice(0, 6)}`,
  settings: Record<string, unknown> = {},
): Promise<Repository> {
  return insertRepository(db, {
    name,
    path: `/nonexistent/${name}`,
    settings: JSON.stringify(settings),
  });
}

export async function newTicket(db: Kdb, repo: Repository, title = 'a ticket'): Promise<string> {
  return (await createTicket(db, { repo: repo.name, title, actor: 'test' })).key;
}

/** Apply an event that carries the ticket's current run id (as the worker would). */
export async function sendResult(
  db: Kdb,
  key: string,
  event: { type: TicketEventInput['type'] } & Record<string, unknown>,
) {
  const ticket = await getTicket(db, key);
  return applyEvent(db, key, { ...event, runId: ticket.current_run_id } as TicketEventInput, {
    actor: 'worker:test',
  });
}

const SHA = 'a'.repeat(64);

/** Drive a fresh ticket through the happy path up to (and including) entering `until`. */
export async function driveTo(
  db: Kdb,
  key: string,
  until: 'PLAN_DRAFT' | 'PLAN_NEGOTIATE' | 'RED' | 'BUILD' | 'VALIDATE' | 'SHIP' | 'LIVE',
) {
  const steps: [string, () => Promise<unknown>][] = [
    ['PLAN_DRAFT', () => applyEvent(db, key, { type: 'START' }, { actor: 'scheduler' })],
    ['PLAN_NEGOTIATE', () => sendResult(db, key, { type: 'PLAN_READY', artifactId: 1 })],
    ['PLAN_APPROVED', () => sendResult(db, key, { type: 'PLAN_REVIEWED', verdict: 'APPROVE' })],
    ['RED', () => sendResult(db, key, { type: 'PLAN_FROZEN', artifactId: 2, sha256: SHA })],
    ['BUILD', () => sendResult(db, key, { type: 'RED_CONFIRMED' })],
    ['VALIDATE', () => sendResult(db, key, { type: 'BUILD_READY' })],
    [
      'SHIP',
      () => sendResult(db, key, { type: 'VERDICT', verdict: 'PASS', findings: ['all green'] }),
    ],
    ['SHIP.verifying', () => sendResult(db, key, { type: 'MERGED', commit: 'abc1234' })],
    ['LIVE', () => sendResult(db, key, { type: 'LIVE_CHECK_PASSED', evidence: 'curl ok' })],
  ];
  for (const [state, step] of steps) {
    const outcome = (await step()) as { status: string };
    if (outcome.status !== 'applied')
      throw new Error(`could not reach ${state}: ${JSON.stringify(outcome)}`);
    if (state === until) return;
  }
}

/**
 * The environment for a test's own `git commit`/`commit-tree` calls: an identity, so they work
 * on a machine (a CI runner, a fresh HOME) with no git user configured.
 */
export function gitIdentityEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_AUTHOR_NAME: 'loopwright test',
    GIT_AUTHOR_EMAIL: 'test@loopwright.invalid',
    GIT_COMMITTER_NAME: 'loopwright test',
    GIT_COMMITTER_EMAIL: 'test@loopwright.invalid',
  };
}
