/**
 * Idempotent writes to a pull request: each looks before it writes, so a retried job, or one killed
 * between the API call and its journal row, finds what the first attempt did instead of repeating
 * it (the PR by its head branch, a comment by a hidden marker).
 */
import type { Github } from './client.js';
import { statusOf } from './client.js';

export interface PrRef {
  readonly owner: string;
  readonly repo: string;
}

export interface OpenedPr {
  readonly number: number;
  readonly url: string;
  readonly reused: boolean;
}

/** The open PR for `head`, or a new one; "a pull request already exists" (422) means re-read. */
export async function findOrCreatePr(
  gh: Github,
  r: PrRef,
  pr: { head: string; base: string; title: string; body: string },
): Promise<OpenedPr> {
  const existing = await openPrFor(gh, r, pr.head);
  if (existing) return { ...existing, reused: true };
  try {
    const created = await gh.rest.pulls.create({ ...r, ...pr });
    const { number } = created.data;
    return { number, url: created.data.html_url ?? pullUrl(r, number), reused: false };
  } catch (error) {
    if (statusOf(error) !== 422) throw error;
    const raced = await openPrFor(gh, r, pr.head);
    if (!raced) throw error;
    return { ...raced, reused: true };
  }
}

/**
 * The open PR whose head is `head`. Every page is read (Link headers): a server that ignores the
 * `head` filter still finds it, and only a PR whose head really is the branch counts.
 */
async function openPrFor(
  gh: Github,
  r: PrRef,
  head: string,
): Promise<{ number: number; url: string } | null> {
  const all = await gh.paginate(gh.rest.pulls.list, {
    ...r,
    head: `${r.owner}:${head}`,
    state: 'open',
    per_page: 100,
  });
  const found = all.find((p) => p.head?.ref === head && (p.state ?? 'open') === 'open');
  return found ? { number: found.number, url: found.html_url ?? pullUrl(r, found.number) } : null;
}

/** A PR's page when the API left `html_url` out. */
function pullUrl(r: PrRef, number: number): string {
  return `https://github.com/${r.owner}/${r.repo}/pull/${number}`;
}

/** The hidden marker that names one comment of loopwright's (`<!-- loopwright:<id> -->`). */
export function commentMarker(id: string): string {
  return `<!-- loopwright:${id} -->`;
}

/** Post `body` once: an existing comment carrying the marker is returned instead. */
export async function ensureComment(
  gh: Github,
  r: PrRef,
  number: number,
  markerId: string,
  body: string,
): Promise<{ id: number; reused: boolean }> {
  const marker = commentMarker(markerId);
  const all = await gh.paginate(gh.rest.issues.listComments, {
    ...r,
    issue_number: number,
    per_page: 100,
  });
  const found = all.find((c) => c.body?.includes(marker));
  if (found) return { id: found.id, reused: true };
  const { data } = await gh.rest.issues.createComment({
    ...r,
    issue_number: number,
    body: `${marker}\n${body}`,
  });
  return { id: data.id, reused: false };
}

export type ChecksState = 'success' | 'pending' | 'failure';

/**
 * The required checks of a commit, as far as the API tells without admin rights: the combined
 * commit status and the check runs. No checks at all counts as green.
 */
export async function checksOf(
  gh: Github,
  r: PrRef,
  sha: string,
): Promise<{ state: ChecksState; failed: string[] }> {
  const [status, runs] = await Promise.all([
    gh.rest.repos.getCombinedStatusForRef({ ...r, ref: sha }).then((x) => x.data),
    // A server without the Checks API (older Enterprise, a fake) answers 404: no check runs.
    gh.rest.checks
      .listForRef({ ...r, ref: sha })
      .then((x) => x.data)
      .catch((error: unknown) => {
        if (statusOf(error) === 404) return { check_runs: [] };
        throw error;
      }),
  ]);
  const statuses = status.statuses ?? [];
  const checkRuns = runs.check_runs ?? [];
  const failed = [
    ...statuses
      .filter((s) => s.state === 'failure' || s.state === 'error')
      .map((s) => `required check ${s.context} failed${s.description ? `: ${s.description}` : ''}`),
    ...checkRuns
      .filter(
        (c) =>
          c.status === 'completed' &&
          !['success', 'neutral', 'skipped'].includes(c.conclusion ?? ''),
      )
      .map((c) => `check run ${c.name} concluded ${c.conclusion}`),
  ];
  if (failed.length > 0) return { state: 'failure', failed };
  const pending =
    statuses.some((s) => s.state === 'pending') || checkRuns.some((c) => c.status !== 'completed');
  return { state: pending ? 'pending' : 'success', failed: [] };
}
