/**
 * Everything the ticket page (and `show --html`) shows about one ticket: the `show` view (header,
 * timeline, gates, rejected events), every agent run in full, the plan versions and the frozen
 * plan,
 * critiques, reports, verdicts, handovers, gate output, the diff of the ticket branch (read through
 * the project's git runner, with no textconv or external diff driver) and the tail of the running
 * agent's transcript.
 */
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { listArtifactsWithContent, type Artifact } from '../db/artifacts.js';
import type { Kdb } from '../db/connection.js';
import { getRepositoryById } from '../db/repositories.js';
import { listRuns, type AgentRun } from '../db/runs.js';
import { getTicket } from '../db/tickets.js';
import { getWorkspace } from '../db/workspaces.js';
import { loadTicketView, type TicketView } from '../cli/ticket-view.js';
import { resolveCommit, runGit } from '../workspace/git.js';

/** Most diff text a page shows; the rest is cut with a note. */
export const DIFF_LIMIT = 256 * 1024;
/** How much of a running agent's transcript the page shows. */
export const TRANSCRIPT_TAIL_BYTES = 16 * 1024;

export interface TicketDiff {
  /** What was compared, e.g. `3f2a9c1..loopwright/app-3`. */
  readonly range: string | null;
  readonly text: string;
  readonly truncated: boolean;
  /** Why there is no diff (branch gone, repository not on this machine). */
  readonly unavailable: string | null;
}

export interface TranscriptTail {
  readonly runId: string;
  readonly text: string;
  readonly size: number;
  readonly unavailable: string | null;
}

export interface TicketDocument {
  readonly view: TicketView;
  readonly runs: readonly AgentRun[];
  readonly artifacts: readonly Artifact[];
  readonly approvedPlan: { readonly artifactId: number; readonly sha256: string } | null;
  readonly mode: string;
  readonly diff: TicketDiff;
  readonly transcript: TranscriptTail | null;
}

const DOCUMENT_KINDS = [
  'plan',
  'plan_review',
  'approved_plan',
  'task',
  'report',
  'verdict',
  'gate_result',
  'note',
] as const;

/** Load the document of one ticket (NotFoundError when it does not exist). */
export async function loadTicketDocument(
  db: Kdb,
  key: string,
  home: string,
  now = new Date(),
): Promise<TicketDocument> {
  const ticket = await getTicket(db, key);
  const [view, runs, artifacts, repo, workspace] = await Promise.all([
    loadTicketView(db, ticket.key, now),
    listRuns(db, ticket.id),
    listArtifactsWithContent(db, ticket.id, DOCUMENT_KINDS),
    getRepositoryById(db, ticket.repo_id),
    getWorkspace(db, ticket.id),
  ]);
  const context = ticket.snapshot.context as unknown as Record<string, unknown>;
  const approved = context.approvedPlan as TicketDocument['approvedPlan'];
  const running = [...runs].reverse().find((r) => r.status === 'running') ?? null;
  const mergeCommit = typeof context.mergeCommit === 'string' ? context.mergeCommit : null;
  const [diff, transcript] = await Promise.all([
    branchDiff(repo.path, workspace ?? null, mergeCommit),
    running ? transcriptTail(running, home) : Promise.resolve(null),
  ]);
  return {
    view,
    runs,
    artifacts,
    approvedPlan: approved && typeof approved === 'object' ? approved : null,
    mode: typeof context.mode === 'string' ? context.mode : 'dark',
    diff,
    transcript,
  };
}

const DIFF_ARGS = ['diff', '--no-color', '--no-ext-diff', '--no-textconv', '--stat', '--patch'];

/**
 * The ticket branch against the commit it forked from; once merged (branch gone), the merge
 * commit against its first parent.
 */
async function branchDiff(
  repoPath: string,
  workspace: { branch: string; base_commit: string } | null,
  mergeCommit: string | null,
): Promise<TicketDiff> {
  const none = (unavailable: string): TicketDiff => ({
    range: null,
    text: '',
    truncated: false,
    unavailable,
  });
  try {
    let from: string | null = null;
    let to: string | null = null;
    let range: string | null = null;
    if (workspace && (await resolveCommit(repoPath, `refs/heads/${workspace.branch}`))) {
      from = workspace.base_commit;
      to = `refs/heads/${workspace.branch}`;
      range = `${workspace.base_commit.slice(0, 10)}..${workspace.branch}`;
    } else if (mergeCommit && (await resolveCommit(repoPath, mergeCommit))) {
      from = `${mergeCommit}^1`;
      to = mergeCommit;
      range = `${mergeCommit.slice(0, 10)}^1..${mergeCommit.slice(0, 10)}`;
    }
    if (!from || !to || !range) return none('no branch yet (the ticket has not started work)');
    const { stdout } = await runGit(repoPath, [...DIFF_ARGS, '--end-of-options', from, to]);
    const truncated = stdout.length > DIFF_LIMIT;
    return {
      range,
      text: truncated ? stdout.slice(0, DIFF_LIMIT) : stdout,
      truncated,
      unavailable: null,
    };
  } catch (error) {
    return none(`diff unavailable: ${(error as Error).message.split('\n')[0]}`);
  }
}

/**
 * The last bytes of a running agent's transcript. The path comes from the database, so it is only
 * read when it lies under this home's `runs/` directory and is a regular file (no symlinks).
 */
export async function transcriptTail(
  run: Pick<AgentRun, 'id' | 'transcript_path' | 'host'>,
  home: string,
  fromByte?: number,
): Promise<TranscriptTail> {
  const fail = (unavailable: string): TranscriptTail => ({
    runId: run.id,
    text: '',
    size: 0,
    unavailable,
  });
  const file = safeTranscriptPath(run.transcript_path, home);
  if (!file) return fail(`transcript not readable here (run on ${run.host ?? 'another host'})`);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const [real, root] = await Promise.all([realpath(file), realpath(path.join(home, 'runs'))]);
    if (!real.startsWith(root + path.sep))
      return fail('transcript lies outside the runs directory');
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    const stat = await handle.stat();
    if (!stat.isFile()) return fail('transcript is not a regular file');
    const start =
      fromByte !== undefined && fromByte <= stat.size
        ? Math.max(fromByte, stat.size - TRANSCRIPT_TAIL_BYTES)
        : Math.max(0, stat.size - TRANSCRIPT_TAIL_BYTES);
    const length = stat.size - start;
    const buffer = Buffer.alloc(length);
    if (length > 0) await handle.read(buffer, 0, length, start);
    return { runId: run.id, text: buffer.toString('utf8'), size: stat.size, unavailable: null };
  } catch {
    return fail('no transcript yet');
  } finally {
    await handle?.close();
  }
}

function safeTranscriptPath(stored: string | null, home: string): string | null {
  if (!stored || !path.isAbsolute(stored)) return null;
  const root = path.resolve(home, 'runs') + path.sep;
  const resolved = path.resolve(stored);
  if (!resolved.startsWith(root)) return null;
  return resolved;
}
