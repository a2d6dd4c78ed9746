/**
 * The GitHub SHIP path's two jobs (integrations lane): `publish_pr` pushes the ticket branch from
 * the orchestrator's repository, opens or reuses the PR and posts the approved plan and the
 * validator's verdict; `merge_pr` merges an approved PR through the API once its checks are green.
 * Every write goes through the `effects` table and looks before it writes, so retries, duplicate
 * deliveries and a crash between a write and its journal row never repeat a push, PR, comment or
 * merge.
 */
import { setTimeout } from 'node:timers/promises';
import { getArtifact, latestArtifact } from '../../db/artifacts.js';
import type { Kdb } from '../../db/connection.js';
import { effectResult, recordEffect } from '../../db/effects.js';
import { judgedCommit, linkOfTicket, upsertLink } from '../../db/integrations.js';
import { applyEvent } from '../../engine/apply-event.js';
import { LoopwrightError } from '../../errors.js';
import { runGit } from '../../workspace/git.js';
import { MissingCredentialError } from '../credentials.js';
import { report, type JobDeps } from '../../phases/agent-job.js';
import { loadDispatch, type Dispatch, type WorkPayload } from '../../phases/dispatch.js';
import { planSchema } from '../../phases/report-schema.js';
import { ticketBranch } from '../../workspace/index.js';
import { splitRepository, type GithubSettings } from '../settings.js';
import { authFailure, createGithub, statusOf, type Github } from './client.js';
import { checksOf, ensureComment, findOrCreatePr, type PrRef } from './pull-request.js';
import { fetchMergedBase, pushBranch } from './remote.js';

/**
 * The PR's state is not final yet (mergeable still computing, checks pending): retry the job later.
 */
export class PrNotReadyError extends LoopwrightError {
  constructor(message: string) {
    super('PR_NOT_READY', message);
  }
}

function githubOf(d: Dispatch): GithubSettings {
  const s = d.settings.github;
  if (!s) throw new LoopwrightError('NO_GITHUB', `repo ${d.repo.name} has no GitHub repository`);
  return s;
}

/** Run `perform` once per key; a retry returns the recorded result. */
async function once<T>(db: Kdb, key: string, d: Dispatch, kind: string, perform: () => Promise<T>) {
  return (await effectResult<T>(db, key)) ?? recordEffect(db, key, d.ticket.id, kind, perform);
}

/**
 * A refused or missing token cannot get better by retrying: the ticket escalates at once
 * (JOB_FAILED, detail `GITHUB_UNAUTHORIZED: ...` or `MISSING_CREDENTIAL: ...`) instead of a retry
 * storm. Returns false for any other error (the job fails and graphile-worker retries it).
 */
async function escalateCredentialFailure(
  deps: JobDeps,
  d: Dispatch,
  runId: string,
  error: unknown,
): Promise<boolean> {
  const failure = error instanceof MissingCredentialError ? error : authFailure(error);
  if (!failure) return false;
  const detail =
    `${failure.code}: ${failure.message}. Fix the token (GITHUB_TOKEN or GITHUB_TOKEN_FILE) ` +
    `of the integrations lane, then: loopwright retry ${d.ticket.key}`;
  await applyEvent(
    deps.db,
    { id: d.ticket.id },
    { type: 'JOB_FAILED', runId, reason: 'JOB_FAILED', detail: detail.slice(0, 8000) },
    { actor: 'integration:github', idempotencyKey: `jobfailed:${runId}` },
  );
  deps.logger.warn(
    { ticket: d.ticket.key, run: runId, code: failure.code },
    'GitHub credentials refused; ticket escalated',
  );
  return true;
}

/** Run a GitHub job; a credential failure escalates once instead of failing the job. */
async function guarded(
  deps: JobDeps,
  payload: WorkPayload,
  job: (d: Dispatch) => Promise<void>,
): Promise<void> {
  const d = await loadDispatch(deps.db, payload);
  if (!d) return;
  try {
    await job(d);
  } catch (error) {
    if (!(await escalateCredentialFailure(deps, d, payload.runId!, error))) throw error;
  }
}

/**
 * The commit to ship: the one VALIDATE's gates judged (its GREEN gate), read from the
 * repository's object store; the ticket branch's tip only when no verdict run recorded one (a
 * human let the ticket past VALIDATE). A branch that moved after the judgement is not shipped.
 */
async function commitToShip(deps: JobDeps, d: Dispatch, branch: string): Promise<string> {
  const tip = (
    await runGit(d.repo.path, ['rev-parse', '--verify', `refs/heads/${branch}^{commit}`])
  ).stdout.trim();
  const judged = await judgedCommit(deps.db, d.ticket.id);
  if (judged && judged !== tip)
    deps.logger.warn(
      { ticket: d.ticket.key, judged, tip },
      'Ticket branch moved after VALIDATE; shipping the judged commit',
    );
  return judged ?? tip;
}

export function publishPrJob(deps: JobDeps, payload: WorkPayload): Promise<void> {
  return guarded(deps, payload, (d) => publishPr(deps, payload, d));
}

async function publishPr(deps: JobDeps, payload: WorkPayload, d: Dispatch): Promise<void> {
  const settings = githubOf(d);
  const gh = await createGithub({ settings, logger: deps.logger });
  const r = splitRepository(settings);
  const branch = ticketBranch(d.ticket.key);
  const at = `${d.ticket.id}:${payload.seq}`;
  const pushed = await once(deps.db, `${at}:push`, d, 'github_push', async () => ({
    sha: await pushBranch(d.repo.path, settings, branch, await commitToShip(deps, d, branch)),
  }));
  const pr = await once(deps.db, `${at}:pr`, d, 'github_pr', () =>
    findOrCreatePr(gh, r, {
      head: branch,
      base: d.repo.base_branch,
      title: `${d.ticket.key}: ${d.ticket.title}`.slice(0, 250),
      body: prBody(d),
    }),
  );
  await upsertLink(deps.db, {
    ticketId: d.ticket.id,
    system: 'github',
    externalId: `${settings.repository}#${pr.number}`,
    externalKey: String(pr.number),
    url: pr.url,
    data: { head: branch, sha: pushed.sha },
  });
  const plan = await planComment(deps.db, d);
  if (plan)
    await once(deps.db, `${at}:plan_comment`, d, 'github_comment', () =>
      ensureComment(gh, r, pr.number, `${d.ticket.key}:plan:${plan.sha}`, plan.body),
    );
  const verdict = await verdictComment(deps.db, d, pushed.sha);
  if (verdict)
    await once(deps.db, `${at}:verdict_comment`, d, 'github_comment', () =>
      ensureComment(gh, r, pr.number, `${d.ticket.key}:${payload.seq}:verdict`, verdict),
    );
  deps.logger.info(
    { ticket: d.ticket.key, pr: pr.number, reused: pr.reused },
    'Pull request published',
  );
  await report(
    deps,
    d,
    { type: 'PR_OPENED', runId: payload.runId!, number: pr.number, url: pr.url },
    'integration:github',
  );
}

function prBody(d: Dispatch): string {
  return [
    d.ticket.body.trim() || d.ticket.title,
    '',
    `Opened by loopwright for ticket \`${d.ticket.key}\`. Review here: approve to ship, request`,
    'changes to send the ticket back to BUILD with your comments as its findings.',
  ]
    .join('\n')
    .slice(0, 60_000);
}

async function planComment(db: Kdb, d: Dispatch): Promise<{ sha: string; body: string } | null> {
  const approved = d.context.approvedPlan;
  if (!approved) return null;
  const artifact = await getArtifact(db, approved.artifactId);
  const parsed = planSchema.safeParse(JSON.parse(artifact.content));
  const lines = parsed.success
    ? [
        `**Goal:** ${parsed.data.goal}`,
        '',
        `**Files:** ${parsed.data.allowedFiles.map((f) => `\`${f}\``).join(', ')}`,
        `**Tests:** ${parsed.data.testFiles.map((f) => `\`${f}\``).join(', ')}`,
        '',
        '**Acceptance criteria**',
        ...parsed.data.acceptanceCriteria.map((c) => `- ${c.name} (\`${c.test}\`)`),
      ]
    : ['```json', artifact.content.slice(0, 50_000), '```'];
  return {
    sha: approved.sha256.slice(0, 12),
    body: [`### Approved plan (sha256 ${approved.sha256.slice(0, 12)})`, '', ...lines].join('\n'),
  };
}

async function verdictComment(db: Kdb, d: Dispatch, sha: string): Promise<string | null> {
  const artifact = await latestArtifact(db, d.ticket.id, 'verdict');
  if (!artifact) return null;
  const v = JSON.parse(artifact.content) as {
    verdict: string;
    findings?: string[];
    evidence?: { claim: string; source: string }[];
  };
  return [
    `### Validator verdict: ${v.verdict} (attempt ${d.context.attempt}, ` +
      `commit ${sha.slice(0, 12)})`,
    '',
    ...(v.evidence ?? []).slice(0, 50).map((e) => `- ${e.claim} — ${e.source}`),
    ...((v.findings ?? []).length ? ['', '**Findings**', ...v.findings!.map((f) => `- ${f}`)] : []),
  ]
    .join('\n')
    .slice(0, 60_000);
}

/** Merge the approved PR through the API (dark mode, or an operator's approve). */
export function mergePrJob(deps: JobDeps, payload: WorkPayload): Promise<void> {
  return guarded(deps, payload, (d) => mergePr(deps, payload, d));
}

async function mergePr(deps: JobDeps, payload: WorkPayload, d: Dispatch): Promise<void> {
  const settings = githubOf(d);
  const gh = await createGithub({ settings, logger: deps.logger });
  const r = splitRepository(settings);
  const link = await linkOfTicket(deps.db, d.ticket.id, 'github');
  const number = d.context.pr?.number ?? Number(link?.external_key);
  const pushed = (link?.data as { sha?: string } | undefined)?.sha ?? null;
  const runId = payload.runId!;
  const key = `${d.ticket.id}:${payload.seq}:merge_pr`;
  const result = await once(deps.db, key, d, 'github_merge', () =>
    mergeWhenReady(gh, r, number, pushed),
  );
  if (result.outcome === 'gone')
    return void (await applyEvent(
      deps.db,
      { id: d.ticket.id },
      { type: 'PR_CLOSED', detail: result.detail },
      { actor: 'integration:github', idempotencyKey: `result:${runId}` },
    ));
  if (result.outcome === 'merged') {
    await fetchMergedBase(d.repo.path, settings, d.repo.base_branch, result.commit);
    return report(deps, d, { type: 'MERGED', runId, commit: result.commit }, 'integration:github');
  }
  if (result.outcome === 'checks_failed')
    return report(
      deps,
      d,
      { type: 'PR_CHECKS_FAILED', runId, findings: result.findings },
      'integration:github',
    );
  return report(
    deps,
    d,
    { type: 'MERGE_CONFLICT', runId, detail: result.detail },
    'integration:github',
  );
}

type MergeResult =
  | { outcome: 'merged'; commit: string }
  | { outcome: 'checks_failed'; findings: string[] }
  | { outcome: 'conflict'; detail: string }
  | { outcome: 'gone'; detail: string };

/**
 * Look first (already merged?), wait out `mergeable: null`, require green checks and the head
 * loopwright pushed (`pushed`: the judged commit; a head someone else moved is not merged), then
 * merge at that sha. A PR that no longer exists (404) is `gone`.
 */
async function mergeWhenReady(
  gh: Github,
  r: PrRef,
  number: number,
  pushed: string | null,
): Promise<MergeResult> {
  const get = async () => (await gh.rest.pulls.get({ ...r, pull_number: number })).data;
  let pull: Awaited<ReturnType<typeof get>>;
  try {
    pull = await get();
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
    return { outcome: 'gone', detail: `pull request #${number} no longer exists on GitHub (404)` };
  }
  for (let i = 0; pull.mergeable === null && !pull.merged && pull.state === 'open' && i < 10; i++) {
    await setTimeout(500 * (i + 1));
    pull = await get();
  }
  if (pull.merged && pull.merge_commit_sha)
    return { outcome: 'merged', commit: pull.merge_commit_sha };
  if (pull.state !== 'open') return { outcome: 'conflict', detail: `PR #${number} is closed` };
  if (pull.mergeable === null)
    throw new PrNotReadyError(`PR #${number}: GitHub is still computing mergeability`);
  if (pushed && pull.head.sha !== pushed)
    return {
      outcome: 'conflict',
      detail:
        `PR #${number}'s head is ${pull.head.sha.slice(0, 12)}, not ${pushed.slice(0, 12)} ` +
        "(the commit loopwright's gates judged and pushed): someone else pushed to the branch",
    };
  if (pull.mergeable === false)
    return {
      outcome: 'conflict',
      detail: `PR #${number} conflicts with ${pull.base.ref} (${pull.mergeable_state})`,
    };
  const checks = await checksOf(gh, r, pull.head.sha);
  if (checks.state === 'failure') return { outcome: 'checks_failed', findings: checks.failed };
  if (checks.state === 'pending')
    throw new PrNotReadyError(`PR #${number}: required checks are pending`);
  try {
    const merged = await gh.rest.pulls.merge({
      ...r,
      pull_number: number,
      sha: pull.head.sha,
      merge_method: 'merge',
    });
    const commit = merged.data.sha ?? (await get()).merge_commit_sha;
    if (!commit) throw new PrNotReadyError(`PR #${number}: merged, merge commit not reported yet`);
    return { outcome: 'merged', commit };
  } catch (error) {
    if (statusOf(error) !== 405 && statusOf(error) !== 409) throw error;
    const again = (await gh.rest.pulls.get({ ...r, pull_number: number })).data;
    if (again.merged && again.merge_commit_sha)
      return { outcome: 'merged', commit: again.merge_commit_sha };
    if (statusOf(error) === 409)
      throw new PrNotReadyError(`PR #${number}: head moved during merge`);
    return {
      outcome: 'conflict',
      detail: `PR #${number} is not mergeable: ${(error as Error).message}`,
    };
  }
}
