/**
 * The polling fallback for repositories whose GitHub events are `poll` (webhooks off): each PR a
 * ticket waits on is read with conditional requests (`If-None-Match`; a 304 costs nothing and
 * means nothing changed), at the repo's interval, backing off exponentially on errors. What it
 * sees goes through the same handlers as a webhook (src/integrations/github/events.ts).
 */
import type { Logger } from 'pino';
import type { TicketContext } from '../../../machines/ticket.js';
import type { Kdb } from '../../db/connection.js';
import { linkOfTicket, pollState, recordPoll } from '../../db/integrations.js';
import { ticketBranch } from '../../workspace/index.js';
import { repoSettings } from '../../config/repo-settings.js';
import { splitRepository } from '../settings.js';
import { authFailure, createGithub, statusOf, type Github } from './client.js';
import { applyClosed, applyGone, applyReview, ticketForPr } from './events.js';

const WAITING = ['awaiting_review', 'awaiting_merge'];

/** One pass over every waiting PR that is due; returns how many PRs were polled. */
export async function pollWaitingPrs(db: Kdb, logger: Logger): Promise<number> {
  const rows = await db
    .selectFrom('loopwright.tickets as t')
    .innerJoin('loopwright.repositories as r', 'r.id', 't.repo_id')
    .select(['t.id', 't.key', 't.snapshot', 'r.settings', 'r.name'])
    .where('t.state', '=', 'SHIP')
    .where('t.substate', 'in', WAITING)
    .execute();
  let polled = 0;
  for (const row of rows) {
    const settings = repoSettings(row as never).github;
    const pr = (row.snapshot as unknown as { context: TicketContext }).context.pr;
    if (!settings || settings.events !== 'poll' || !pr) continue;
    const key = `github:${settings.repository}#${pr.number}`;
    const state = await pollState(db, key);
    if (!state.due) continue;
    polled += 1;
    try {
      const gh = await createGithub({ settings, logger });
      const reviewsKey = `${key}:reviews`;
      const etags = await pollOne(
        db,
        logger,
        gh,
        settings.repository,
        pr.number,
        {
          pull: state.etag,
          reviews: (await pollState(db, reviewsKey)).etag,
        },
        await knownHead(db, row.id, row.key),
      );
      await recordPoll(db, key, {
        etag: etags.pull,
        failures: 0,
        nextInSeconds: settings.pollSeconds,
      });
      await recordPoll(db, reviewsKey, { etag: etags.reviews, failures: 0, nextInSeconds: 0 });
    } catch (error) {
      const failures = state.failures + 1;
      const wait = Math.min(settings.pollSeconds * 2 ** failures, 3600);
      logger.warn(
        {
          err: error,
          ticket: row.key,
          failures,
          waitSeconds: wait,
          ...(authFailure(error) ? { code: 'GITHUB_UNAUTHORIZED' } : {}),
        },
        'Poll failed; backing off',
      );
      await recordPoll(db, key, { etag: state.etag, failures, nextInSeconds: wait });
    }
  }
  return polled;
}

async function knownHead(db: Kdb, ticketId: string, key: string) {
  const link = await linkOfTicket(db, ticketId, 'github');
  return { ref: ticketBranch(key), sha: String((link?.data as { sha?: string })?.sha ?? '') };
}

/** Read the PR (conditionally) and, when it changed, its reviews; apply what is new. */
async function pollOne(
  db: Kdb,
  logger: Logger,
  gh: Github,
  repository: string,
  number: number,
  etags: { pull: string | null; reviews: string | null },
  known: { ref: string; sha: string },
): Promise<{ pull: string | null; reviews: string | null }> {
  const r = splitRepository({ repository } as never);
  const conditional = (etag: string | null) => (etag ? { 'if-none-match': etag } : {});
  let pull: Awaited<ReturnType<Github['rest']['pulls']['get']>> | undefined;
  try {
    pull = await gh.rest.pulls.get({ ...r, pull_number: number, headers: conditional(etags.pull) });
  } catch (error) {
    if (statusOf(error) === 404) {
      // Deleted (or the repository moved): nothing will ever be reviewed or merged there.
      const t = await ticketForPr(db, repository, known.ref, number);
      if (t) await applyGone(db, logger, t, number);
      return { pull: null, reviews: null };
    }
    if (statusOf(error) !== 304) throw error;
  }
  const pullEtag = pull?.headers.etag ?? etags.pull;
  // Unchanged (304): the PR is still open on the head loopwright pushed last.
  const p = pull?.data ?? { state: 'open', merged: false, merge_commit_sha: null, head: known };
  const head = { ref: p.head?.ref ?? known.ref, sha: p.head?.sha ?? known.sha };
  const t = await ticketForPr(db, repository, head.ref, number);
  if (!t) return { pull: pullEtag, reviews: etags.reviews };
  if (p.state === 'closed') {
    await applyClosed(db, logger, t, {
      number,
      merged: p.merged === true,
      mergeCommit: p.merge_commit_sha ?? null,
    });
    return { pull: pullEtag, reviews: etags.reviews };
  }
  let listed: Awaited<ReturnType<Github['rest']['pulls']['listReviews']>>;
  try {
    listed = await gh.rest.pulls.listReviews({
      ...r,
      pull_number: number,
      per_page: 100,
      headers: conditional(etags.reviews),
    });
  } catch (error) {
    if (statusOf(error) === 304) return { pull: pullEtag, reviews: etags.reviews };
    throw error;
  }
  // More than one page (Link: rel="next"): read them all; only the first is conditional.
  const reviews = /rel="next"/.test(listed.headers.link ?? '')
    ? await gh.paginate(gh.rest.pulls.listReviews, { ...r, pull_number: number, per_page: 100 })
    : listed.data;
  // The latest decisive review of each reviewer on the current head decides (a server that
  // leaves commit_id out is taken to mean the current head).
  const latest = new Map<string, (typeof reviews)[number]>();
  for (const review of reviews) {
    if (review.commit_id && review.commit_id !== head.sha) continue;
    if (review.state !== 'APPROVED' && review.state !== 'CHANGES_REQUESTED') continue;
    latest.set(review.user?.login ?? String(review.id), review);
  }
  const decisive = [...latest.values()];
  const pick =
    decisive.filter((x) => x.state === 'CHANGES_REQUESTED').at(-1) ??
    decisive.filter((x) => x.state === 'APPROVED').at(-1);
  if (pick)
    await applyReview(db, logger, t, number, {
      reviewId: pick.id,
      state: pick.state,
      body: pick.body ?? '',
      login: pick.user?.login ?? 'a reviewer',
    });
  return { pull: pullEtag, reviews: listed.headers.etag ?? null };
}
