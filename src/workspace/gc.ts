/**
 * Retention (`loopwright gc`, and `run` hourly): what a ticket left on disk once it has been final
 * longer than its repository's `retentionDays` — its transcripts (`runs/<ticket>/`), its workspace
 * clone, and its ticket branch when that holds nothing unmerged — plus scratch checkouts that a
 * killed process left behind. Only paths loopwright made are touched: a workspace whose recorded
 * path is not inside the home's workspace folder is skipped, and only `loopwright/` branches are
 * deleted. Each ticket's files go while its row is share-locked in its final state, so no event
 * can move it back into work halfway. Nothing is journaled; the workspace row is marked removed.
 */
import { realpath, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { homeDirs } from '../config/home.js';
import { DEFAULT_RETENTION_DAYS, repoSettingsSchema } from '../config/repo-settings.js';
import type { Kdb } from '../db/connection.js';
import {
  listPrunableTickets,
  withFinalTicketLocked,
  type PrunableTicket,
} from '../db/retention.js';
import { markWorkspaceRemoved } from '../db/workspaces.js';
import { measureTree } from './disk-usage.js';
import { runGit } from './git.js';
import { commonGitDir } from './repository.js';
import { listStaleScratchCheckouts, removeScratchTree } from './scratch-checkout.js';
import { BRANCH_PREFIX, deleteTicketBranch } from './worktree.js';

const DAY_MS = 86_400_000;
/** A scratch directory this old belongs to a dead process (gates time out long before). */
export const SCRATCH_MAX_AGE_MS = DAY_MS;
/** Directories loopwright makes in the OS temp dir (sandbox /tmp, private index). */
const OS_TMP_PREFIXES = ['loopwright-sbx-', 'lw-index-'] as const;

/** One thing gc removed (or, with dryRun, would remove). */
export interface PrunedItem {
  readonly kind: 'transcripts' | 'workspace' | 'branch' | 'scratch';
  /** The ticket it belonged to; null for scratch checkouts. */
  readonly ticket: string | null;
  /** A directory, or for a branch `repo-path:loopwright/<ticket>`. */
  readonly path: string;
  readonly bytes: number;
}

/** What one gc pass did. */
export interface GcReport {
  readonly dryRun: boolean;
  readonly items: readonly PrunedItem[];
  readonly bytes: number;
  /** Final tickets whose files were (or would be) pruned. */
  readonly tickets: number;
  /** Paths refused because they are not loopwright's (a workspace row pointing elsewhere). */
  readonly skipped: readonly string[];
}

export interface GcOptions {
  readonly db: Kdb;
  readonly home: string;
  /** Overrides every repository's `retentionDays` (`--older-than`). */
  readonly olderThanMs?: number;
  readonly dryRun?: boolean;
  readonly now?: number;
  readonly logger?: Logger;
  /** The OS temp dir where sandboxes keep their private /tmp (default `os.tmpdir()`). */
  readonly osTmpDir?: string;
}

/**
 * One retention pass. Cheap when there is nothing to do: one directory listing of `runs/`, one
 * `for-each-ref` per repository that has ticket branches, one query.
 *
 * @example
 * ```ts
 * const report = await runGc({ db, home, olderThanMs: 7 * 86_400_000, dryRun: true });
 * console.log(report.bytes, report.items.length);
 * ```
 */
export async function runGc(options: GcOptions): Promise<GcReport> {
  const now = options.now ?? Date.now();
  const dirs = homeDirs(options.home);
  const transcriptKeys = new Set(await readdir(dirs.runs).catch(() => [] as string[]));
  const branchKeys = await ticketBranchKeys(options.db);
  const keys = [...new Set([...transcriptKeys, ...branchKeys.keys()])];
  const tickets = (await listPrunableTickets(options.db, keys)).filter(
    (t) => now - t.stateChangedAt.getTime() >= retentionMs(t, options.olderThanMs),
  );
  const items: PrunedItem[] = [];
  const skipped: string[] = [];
  let pruned = 0;
  for (const ticket of tickets) {
    const found = await withFinalTicketLocked(options.db, ticket, () =>
      pruneTicket(options, ticket, {
        transcripts: transcriptKeys.has(ticket.key),
        branch: branchKeys.get(ticket.key)?.has(ticket.repoId) ?? false,
        skipped,
      }),
    );
    if (found && found.length > 0) {
      pruned += 1;
      items.push(...found);
    }
  }
  const tmps = [dirs.tmp, options.osTmpDir ?? tmpdir()] as const;
  items.push(...(await pruneScratch(tmps, now, options.dryRun ?? false)));
  const report: GcReport = {
    dryRun: options.dryRun ?? false,
    items,
    bytes: items.reduce((sum, i) => sum + i.bytes, 0),
    tickets: pruned,
    skipped,
  };
  if (items.length > 0 && !report.dryRun)
    options.logger?.info(
      { items: items.length, bytes: report.bytes, tickets: pruned },
      'Retention pruned old files',
    );
  return report;
}

/** The repository's retention, or the override; a broken settings document gets the default. */
function retentionMs(ticket: PrunableTicket, override: number | undefined): number {
  if (override !== undefined) return override;
  const raw = (ticket.settings as { retentionDays?: unknown } | null)?.retentionDays;
  const parsed = repoSettingsSchema.shape.retentionDays.safeParse(raw);
  return (parsed.success ? parsed.data : DEFAULT_RETENTION_DAYS) * DAY_MS;
}

/** Ticket key -> ids of the repositories that hold a `loopwright/<key>` branch. */
async function ticketBranchKeys(db: Kdb): Promise<Map<string, Set<string>>> {
  const repos = await db
    .selectFrom('loopwright.repositories')
    .select(['id', 'path'])
    .where('removed_at', 'is', null)
    .execute();
  const keys = new Map<string, Set<string>>();
  for (const repo of repos) {
    const gitDir = await commonGitDir(repo.path).catch(() => null);
    if (!gitDir) continue;
    const { stdout } = await runGit(
      gitDir,
      ['for-each-ref', '--format=%(refname:lstrip=3)', `refs/heads/${BRANCH_PREFIX}`],
      { gitDir, okExitCodes: [0, 128] },
    );
    for (const key of stdout.split('\n').filter(Boolean)) {
      const holders = keys.get(key) ?? new Set<string>();
      holders.add(String(repo.id));
      keys.set(key, holders);
    }
  }
  return keys;
}

interface TicketFiles {
  readonly transcripts: boolean;
  readonly branch: boolean;
  readonly skipped: string[];
}

async function pruneTicket(
  options: GcOptions,
  ticket: PrunableTicket,
  files: TicketFiles,
): Promise<PrunedItem[]> {
  const dirs = homeDirs(options.home);
  const dryRun = options.dryRun ?? false;
  const items: PrunedItem[] = [];
  const remove = async (kind: PrunedItem['kind'], dir: string) => {
    const { bytes } = await measureTree(dir);
    if (!dryRun) await removeScratchTree(dir);
    items.push({ kind, ticket: ticket.key, path: dir, bytes });
  };
  if (files.transcripts) {
    const dir = await ownedPath(dirs.runs, path.join(dirs.runs, ticket.key), 1);
    if (dir) await remove('transcripts', dir);
  }
  if (ticket.workspacePath) {
    const dir = await ownedPath(dirs.workspaces, ticket.workspacePath, 2);
    if (dir) await remove('workspace', dir);
    else if (await exists(ticket.workspacePath)) files.skipped.push(ticket.workspacePath);
    if (!dryRun && (dir || !(await exists(ticket.workspacePath))))
      await markWorkspaceRemoved(options.db, ticket.id);
  }
  if (files.branch && !ticket.repoRemoved && ticketBranchMayGo(ticket)) {
    const branch = `${BRANCH_PREFIX}${ticket.key}`;
    const gone = await deleteTicketBranch(ticket.repoPath, branch, {
      dryRun,
      ...(ticket.state === 'LIVE' ? {} : { onlyIfMergedInto: ticket.baseBranch }),
    }).catch((err: unknown) => {
      options.logger?.warn({ ticket: ticket.key, err }, 'Ticket branch kept');
      return false;
    });
    const where = `${ticket.repoPath}:${branch}`;
    if (gone) items.push({ kind: 'branch', ticket: ticket.key, path: where, bytes: 0 });
  }
  return items;
}

/**
 * LIVE: the work is merged. CANCELLED: only when merged (checked at deletion). ESCALATED and
 * DEAD_LETTER wait for a person whose RETRY resumes from the branch: kept.
 */
function ticketBranchMayGo(ticket: PrunableTicket): boolean {
  return ticket.state === 'LIVE' || ticket.state === 'CANCELLED';
}

/**
 * `candidate` when it is a real directory exactly `depth` levels inside `root` (no symlink on
 * the way, both resolved), else null.
 */
async function ownedPath(root: string, candidate: string, depth: number): Promise<string | null> {
  const [realRoot, real] = await Promise.all([
    realpath(root).catch(() => null),
    realpath(candidate).catch(() => null),
  ]);
  if (!realRoot || !real) return null;
  const rel = path.relative(realRoot, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  if (rel.split(path.sep).length !== depth) return null;
  // No symlink below the root: the path as written reaches the same place.
  return path.relative(path.resolve(root), path.resolve(candidate)) === rel ? real : null;
}

async function exists(p: string): Promise<boolean> {
  return (await realpath(p).catch(() => null)) !== null;
}

/** Scratch checkouts under the home and loopwright's OS temp dirs older than a day. */
async function pruneScratch(
  [homeTmp, osTmp]: readonly [string, string],
  now: number,
  dryRun: boolean,
): Promise<PrunedItem[]> {
  const olderThanMs = SCRATCH_MAX_AGE_MS;
  const stale = await listStaleScratchCheckouts({ root: homeTmp, olderThanMs, now });
  for (const prefix of OS_TMP_PREFIXES)
    stale.push(...(await listStaleScratchCheckouts({ root: osTmp, olderThanMs, now, prefix })));
  const items: PrunedItem[] = [];
  for (const dir of stale) {
    const { bytes } = await measureTree(dir);
    if (!dryRun)
      await removeScratchTree(dir).catch(() => rm(dir, { recursive: true, force: true }));
    items.push({ kind: 'scratch', ticket: null, path: dir, bytes });
  }
  return items;
}
