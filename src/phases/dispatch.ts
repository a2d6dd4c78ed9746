/**
 * Everything a dispatched piece of work needs to know about its ticket, loaded fresh from the
 * database (never from a job payload, which only names the ticket and the run).
 */
import path from 'node:path';
import type { Phase, Role, TicketContext } from '../../machines/ticket.js';
import { getArtifact } from '../db/artifacts.js';
import type { Kdb } from '../db/connection.js';
import type { Repository } from '../db/repositories.js';
import { getTicketWithRepository, type Ticket } from '../db/tickets.js';
import { upsertWorkspace } from '../db/workspaces.js';
import { runsWithEvents } from '../db/journal.js';
import type { Logger } from 'pino';
import {
  dropUnjudged,
  runCommitsOnTop,
  openWorkspace,
  rememberForkPoint,
  runGit,
  algorithmOf,
  GitError,
  moveRefs,
  writeCommit,
  type OpenedWorkspace,
  type Worktree,
} from '../workspace/index.js';
import { planSchema, type Plan } from './report-schema.js';
import { repoSettings, type RepoSettings } from '../config/repo-settings.js';

/** What every work job carries (src/engine/work.ts). */
export interface WorkPayload {
  readonly ticketId: string;
  readonly seq: number;
  readonly runId?: string;
  readonly role?: Role;
  readonly phase?: Phase;
  readonly attempt?: number;
  readonly round?: number;
  readonly timer?: number;
  /** Merge job only: how many times it already found the user's checkout dirty (backoff). */
  readonly wait?: number;
}

export interface Dispatch {
  readonly ticket: Ticket;
  readonly repo: Repository;
  readonly settings: RepoSettings;
  readonly context: TicketContext;
}

/** Load the ticket; null when this work is no longer the ticket's current run (superseded). */
export async function loadDispatch(db: Kdb, payload: WorkPayload): Promise<Dispatch | null> {
  const { ticket, repo } = await getTicketWithRepository(db, payload.ticketId);
  if (payload.runId && ticket.current_run_id !== payload.runId) return null;
  return {
    ticket,
    repo,
    settings: repoSettings(repo),
    context: ticket.snapshot.context as unknown as TicketContext,
  };
}

/**
 * The ticket's workspace (created on first use, reused after), recorded in the database, with the
 * tips git reported while opening it.
 */
export async function ensureWorkspace(
  db: Kdb,
  home: string,
  d: Dispatch,
): Promise<OpenedWorkspace> {
  const opened = await openWorkspace({
    repoPath: d.repo.path,
    baseBranch: d.repo.base_branch,
    ticketKey: d.ticket.key,
    root: worktreesRoot(home),
  });
  const { wt } = opened;
  // Recorded once per clone: until the directory goes (gc and release remove it before they mark
  // the row removed), the row this process wrote still says what it says.
  const recorded = `${wt.path}\0${wt.branch}`;
  let rows = RECORDED.get(db);
  if (!rows) RECORDED.set(db, (rows = new Map()));
  if (opened.cloned || rows.get(d.ticket.id) !== recorded) {
    await upsertWorkspace(db, {
      ticket_id: d.ticket.id,
      repo_id: d.repo.id,
      path: wt.path,
      branch: wt.branch,
      base_commit: wt.baseCommit,
    });
    if (rows.size >= MAX_RECORDED) rows.clear();
    rows.set(d.ticket.id, recorded);
  }
  return opened;
}

/**
 * Per database handle (ticket ids are only unique within one database): ticket id -> the
 * workspace row this process last wrote for it (path and branch).
 */
const RECORDED = new WeakMap<Kdb, Map<string, string>>();
const MAX_RECORDED = 10_000;

/**
 * Bring the base branch's new commits into the ticket branch before RED, BUILD and VALIDATE, so a
 * ticket that waited for a blocker builds on the blocker's merged work and is validated as it will
 * be merged. The merge is made from objects in the repository (`merge-tree --write-tree`, no
 * checkout) and the ticket branch moved by compare-and-swap; the caller then resets the workspace
 * to the returned tip. A conflict is left for the SHIP merge to report (MERGE_CONFLICT); the
 * branch is untouched then. The base is already in the branch when it is the fork point.
 */
export async function syncWithBase(
  d: Dispatch,
  opened: OpenedWorkspace,
): Promise<{ wt: Worktree; tip: string }> {
  const { wt, baseTip } = opened;
  const tip = opened.tip.commit;
  if (wt.baseCommit === baseTip) return { wt, tip };
  const gitDir = wt.repoGitDir;
  const merged = await runGit(
    gitDir,
    ['merge-tree', '--write-tree', '--no-messages', tip, baseTip],
    { gitDir, okExitCodes: [0, 1] },
  );
  if (merged.exitCode !== 0) return { wt, tip };
  const tree = merged.stdout.split('\n')[0]!.trim();
  const message = `loopwright(${d.ticket.key}): merge ${d.repo.base_branch}\n`;
  const commit = await writeCommit(
    path.join(gitDir, 'objects'),
    { tree, parents: [tip, baseTip], message },
    algorithmOf(tip),
  );
  const ref = `refs/heads/${wt.branch}`;
  const moved = await moveRefs(gitDir, [{ ref, next: commit, expected: tip }]);
  if (!moved.ok) throw new GitError(['update-ref', ref, commit, tip], gitDir, 1, moved.why);
  // The base tip is a parent of the merge: it is the new fork point.
  rememberForkPoint(gitDir, wt.branch, baseTip, commit, baseTip);
  return { wt: { ...wt, baseCommit: baseTip }, tip: commit };
}

/**
 * Take off the ticket branch the commits of runs whose outcome never reached the journal (a
 * process killed between committing a run's work and journaling its event; see
 * src/workspace/unjudged-commits.ts), so a fresh run of the phase starts where the journal says
 * the ticket is. `runId`'s own commit stays: its retried job judges it.
 */
export async function withoutUnjudgedWork(
  db: Kdb,
  d: Dispatch,
  opened: OpenedWorkspace,
  runId: string,
  log: Logger,
): Promise<OpenedWorkspace> {
  const chain = await runCommitsOnTop(opened);
  const others = [...new Set(chain.flatMap((c) => (c.run && c.run !== runId ? [c.run] : [])))];
  if (others.length === 0) return opened;
  const judged = await runsWithEvents(db, d.ticket.id, others);
  const kept = (run: string) => run === runId || judged.has(run);
  const { opened: rewound, dropped } = await dropUnjudged(opened, chain, kept);
  if (dropped.length > 0)
    log.warn(
      { dropped, tip: rewound.tip.commit },
      'Commits of runs that never reported taken off the ticket branch; the agent redoes them',
    );
  return rewound;
}

/**
 * Where the ticket workspaces (clones) live: `$LOOPWRIGHT_HOME/worktrees` (name kept for upgrades).
 */
export function worktreesRoot(home: string): string {
  return path.join(home, 'worktrees');
}

/** The plan in force: the approved one once frozen, else the latest draft. */
export async function currentPlan(
  db: Kdb,
  context: TicketContext,
): Promise<{ plan: Plan; text: string; sha256: string | null } | null> {
  const id = context.approvedPlan?.artifactId ?? context.planArtifactId;
  if (id === null || id === undefined) return null;
  const artifact = await getArtifact(db, id);
  return {
    plan: planSchema.parse(JSON.parse(artifact.content)),
    text: artifact.content,
    sha256: context.approvedPlan ? artifact.sha256 : null,
  };
}
