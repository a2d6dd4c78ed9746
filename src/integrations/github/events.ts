/**
 * What GitHub says about a ticket's PR, turned into ticket events. Webhook deliveries and the
 * polling fallback both end here. Reviews apply keyed by review id and merges/closes by PR, so a
 * duplicate delivery, a redelivery with a new id, or a poll that sees the same review again all
 * change nothing the second time. Everything in a payload is untrusted: it is parsed (zod), matched
 * against the ticket's own PR, and review text is only ever data (findings).
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import type { TicketContext, TicketEventInput } from '../../../machines/ticket.js';
import type { Kdb } from '../../db/connection.js';
import { getRepositoryById } from '../../db/repositories.js';
import { getTicket, type Ticket } from '../../db/tickets.js';
import { applyEvent } from '../../engine/apply-event.js';
import { repoSettings } from '../../config/repo-settings.js';
import { isBadInput } from '../../errors.js';
import { BRANCH_PREFIX } from '../../workspace/worktree.js';
import { splitRepository, type GithubSettings } from '../settings.js';
import { createGithub } from './client.js';
import { fetchMergedBase } from './remote.js';

const pullSchema = z.object({
  number: z.number().int().positive(),
  state: z.string(),
  merged: z.boolean().nullish(),
  merge_commit_sha: z.string().nullish(),
  head: z.object({ ref: z.string(), sha: z.string() }),
});
const repositorySchema = z.object({ full_name: z.string() });

export const reviewPayloadSchema = z.object({
  action: z.string(),
  review: z.object({
    id: z.number().int().nonnegative(),
    state: z.string(),
    body: z.string().nullish(),
    commit_id: z.string().nullish(),
    user: z.object({ login: z.string() }).nullish(),
  }),
  pull_request: pullSchema,
  repository: repositorySchema,
});

export const pullRequestPayloadSchema = z.object({
  action: z.string(),
  pull_request: pullSchema,
  repository: repositorySchema,
});

export interface PrTicket {
  readonly ticket: Ticket;
  readonly settings: GithubSettings;
  readonly repoPath: string;
  readonly baseBranch: string;
}

/** The ticket whose PR this is, or null (not ours, another repository, or a different PR). */
export async function ticketForPr(
  db: Kdb,
  repository: string,
  head: string,
  number: number,
): Promise<PrTicket | null> {
  const key = head.startsWith(BRANCH_PREFIX) ? head.slice(BRANCH_PREFIX.length) : '';
  if (!/^[a-z0-9][a-z0-9_-]{0,39}-\d{1,9}$/.test(key)) return null;
  const ticket = await getTicket(db, key).catch((error: unknown) => {
    if (isBadInput(error)) return null;
    throw error;
  });
  if (!ticket) return null;
  const repo = await getRepositoryById(db, ticket.repo_id);
  const settings = repoSettings(repo).github;
  if (!settings || settings.repository.toLowerCase() !== repository.toLowerCase()) return null;
  const pr = (ticket.snapshot.context as unknown as TicketContext).pr;
  if (pr && pr.number !== number) return null;
  return { ticket, settings, repoPath: repo.path, baseBranch: repo.base_branch };
}

export interface ReviewSeen {
  readonly reviewId: number;
  readonly state: string;
  readonly body: string;
  readonly login: string;
}

/** Apply a submitted review: approved or changes requested (with its line comments as findings). */
export async function applyReview(
  db: Kdb,
  logger: Logger,
  t: PrTicket,
  prNumber: number,
  review: ReviewSeen,
): Promise<string> {
  const state = review.state.toLowerCase();
  let event: TicketEventInput;
  if (state === 'approved') event = { type: 'PR_APPROVED', reviewId: review.reviewId };
  else if (state === 'changes_requested')
    event = {
      type: 'PR_CHANGES_REQUESTED',
      reviewId: review.reviewId,
      findings: await reviewFindings(t, prNumber, review),
    };
  else return `ignored review state ${state}`;
  return apply(db, logger, t, event, `github:review:${review.reviewId}`);
}

/** The review's line comments (file, line, body, author) and its summary, as BUILD findings. */
async function reviewFindings(
  t: PrTicket,
  prNumber: number,
  review: ReviewSeen,
): Promise<string[]> {
  const gh = await createGithub({ settings: t.settings });
  const comments = await gh.paginate(gh.rest.pulls.listCommentsForReview, {
    ...splitRepository(t.settings),
    pull_number: prNumber,
    review_id: review.reviewId,
    per_page: 100,
  });
  const findings = comments.map((c) => {
    const line = c.line ?? c.original_line ?? null;
    const file = c.path ?? 'the pull request';
    const where = line === null ? file : `${file}:${line}`;
    return `${where}: ${(c.body ?? '').slice(0, 3000)} (review comment by ${review.login})`;
  });
  if (review.body.trim())
    findings.unshift(`review by ${review.login}: ${review.body.trim().slice(0, 3000)}`);
  if (findings.length === 0) findings.push(`${review.login} requested changes (no comment given)`);
  return findings.slice(0, 200);
}

/**
 * Apply a PR's closing: merged (after fetching the merge into the repository) or closed unmerged.
 */
export async function applyClosed(
  db: Kdb,
  logger: Logger,
  t: PrTicket,
  pull: { number: number; merged: boolean; mergeCommit: string | null },
): Promise<string> {
  if (pull.merged && pull.mergeCommit) {
    await fetchMergedBase(t.repoPath, t.settings, t.baseBranch, pull.mergeCommit);
    return apply(
      db,
      logger,
      t,
      { type: 'PR_MERGED', commit: pull.mergeCommit },
      `github:merged:${pull.number}`,
    );
  }
  return apply(
    db,
    logger,
    t,
    { type: 'PR_CLOSED', detail: `pull request #${pull.number} was closed without merging` },
    `github:closed:${pull.number}:${t.ticket.version}`,
  );
}

/** The PR no longer exists (404): the ticket escalates as for a PR closed unmerged. */
export function applyGone(db: Kdb, logger: Logger, t: PrTicket, number: number): Promise<string> {
  return apply(
    db,
    logger,
    t,
    { type: 'PR_CLOSED', detail: `pull request #${number} no longer exists on GitHub (404)` },
    `github:gone:${number}:${t.ticket.version}`,
  );
}

async function apply(
  db: Kdb,
  logger: Logger,
  t: PrTicket,
  event: TicketEventInput,
  idempotencyKey: string,
): Promise<string> {
  const outcome = await applyEvent(db, { id: t.ticket.id }, event, {
    actor: 'integration:github',
    idempotencyKey,
  });
  logger.info(
    {
      ticket: t.ticket.key,
      event: event.type,
      status: outcome.status,
      duplicate: outcome.duplicate,
    },
    'GitHub event applied',
  );
  return `${event.type} ${outcome.status}${outcome.duplicate ? ' (duplicate)' : ''}`;
}

/** A verified webhook delivery from GitHub: route it to the ticket it concerns, if any. */
export async function handleGithubDelivery(
  db: Kdb,
  logger: Logger,
  event: string,
  payload: unknown,
): Promise<string> {
  if (event === 'pull_request_review') {
    const p = reviewPayloadSchema.safeParse(payload);
    if (!p.success || p.data.action !== 'submitted') return 'ignored';
    const { review, pull_request: pr } = p.data;
    const t = await ticketForPr(db, p.data.repository.full_name, pr.head.ref, pr.number);
    if (!t) return 'ignored: not a loopwright PR';
    if (review.commit_id && review.commit_id !== pr.head.sha)
      return 'ignored: review of an older push';
    return applyReview(db, logger, t, pr.number, {
      reviewId: review.id,
      state: review.state,
      body: review.body ?? '',
      login: review.user?.login ?? 'a reviewer',
    });
  }
  if (event === 'pull_request') {
    const p = pullRequestPayloadSchema.safeParse(payload);
    if (!p.success || p.data.action !== 'closed') return 'ignored';
    const pr = p.data.pull_request;
    const t = await ticketForPr(db, p.data.repository.full_name, pr.head.ref, pr.number);
    if (!t) return 'ignored: not a loopwright PR';
    return applyClosed(db, logger, t, {
      number: pr.number,
      merged: pr.merged === true,
      mergeCommit: pr.merge_commit_sha ?? null,
    });
  }
  return `ignored event ${event}`;
}
