/**
 * A tripwire for writes git cannot see. The agent's cwd is its worktree and the scope gate checks
 * what git sees there; a `../escape.txt` lands outside, so this probe fingerprints the places such
 * a
 * path reaches before the run and reports what changed after it:
 *
 * - the repository's main checkout, recursively (skipping `.git` and `node_modules`), after which
 *   changes that leave a tracked file clean in git's eyes are dropped (a concurrent loopwright
 *   merge updating the checkout is not the agent's doing; see `mergeToBase`);
 * - the worktrees root down to `<root>/<repo-dir>/*`: files there are reported, while directories
 *   at those two levels are worktree slots (other tickets come and go concurrently) and are not
 *   entered;
 * - the common git dir's `hooks/`, `config`, `info/attributes` and `info/exclude`, where a write
 *   would run code or change what every later git command does or sees.
 *
 * It is a tripwire, not a sandbox: absolute paths elsewhere (`/tmp/x`), writes deeper inside
 * another
 * worktree slot, or a file changed and restored to an identical ctime go unseen. Process isolation
 * is the agent runner's job. The snapshot is plain data, so it can be stored and checked later.
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { gateResult, type ScopeGateResult, type Violation } from './gate-result.js';
import { runGit, splitNul } from './git.js';
import { canonical, commonGitDir, mainCheckout } from './repository.js';

const SKIP_NAMES = new Set(['.git', 'node_modules']);
const DEFAULT_MAX_ENTRIES = 200_000;
/** Fingerprint of a watched root that does not exist (yet). */
const ABSENT = 'absent';
/** "Recursive", as a number that survives JSON (Infinity does not). */
const UNLIMITED_DEPTH = 1_000;

/** One watched place, listed down to `maxDepth` levels below its root (1 = direct children). */
interface Area {
  readonly root: string;
  readonly maxDepth: number;
  /**
   * When false, directories are entered (above `maxDepth`) but their own coming and going is not
   * reported.
   */
  readonly reportDirs: boolean;
  /** A git checkout whose clean tracked files are not reported. */
  readonly checkout: boolean;
}

/** Everything needed to check later, as plain JSON-able data. */
export interface OutsideSnapshot {
  readonly areas: readonly Area[];
  readonly excluded: readonly string[];
  readonly maxEntries: number;
  /** Absolute path -> fingerprint (type, size, mtime, ctime, inode). */
  readonly entries: Readonly<Record<string, string>>;
  /** Directories whose listing was fully recorded (creations are only judged inside these). */
  readonly listed: readonly string[];
}

/** Where the agent runs and what surrounds it. */
export interface OutsideWriteProbeOptions {
  readonly repoPath: string;
  readonly worktreesRoot: string;
  /** The agent's own worktree: never watched. */
  readonly worktreePath: string;
  /** Stop recording after this many entries (default 200,000). */
  readonly maxEntries?: number;
}

/** A snapshot plus the check that compares the present with it. */
export interface OutsideWriteProbe {
  readonly snapshot: OutsideSnapshot;
  check(): Promise<ScopeGateResult>;
}

/**
 * Take the "before" snapshot. Call `check()` after the agent exits: it fails with
 * SCOPE_VIOLATION (`why: 'outside-write'`, `detail: created|modified|deleted`) for every change.
 *
 * @example
 * ```ts
 * const probe = await outsideWriteProbe({ repoPath, worktreesRoot: root, worktreePath: wt.path });
 * await runAgent(...);
 * const result = await probe.check();
 * ```
 */
export async function outsideWriteProbe(
  options: OutsideWriteProbeOptions,
): Promise<OutsideWriteProbe> {
  const areas: Area[] = [];
  const main = await mainCheckout(options.repoPath);
  if (main)
    areas.push({
      root: await canonical(main),
      maxDepth: UNLIMITED_DEPTH,
      reportDirs: true,
      checkout: true,
    });
  areas.push({
    root: await canonical(options.worktreesRoot),
    maxDepth: 2,
    reportDirs: false,
    checkout: false,
  });
  const common = await commonGitDir(options.repoPath);
  for (const name of [
    'hooks',
    'config',
    path.join('info', 'attributes'),
    path.join('info', 'exclude'),
  ]) {
    areas.push({
      root: path.join(common, name),
      maxDepth: UNLIMITED_DEPTH,
      reportDirs: true,
      checkout: false,
    });
  }
  const excluded = [await canonical(options.worktreePath), await canonical(options.worktreesRoot)];
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const seen = await walkAreas(areas, excluded, maxEntries);
  const snapshot: OutsideSnapshot = {
    areas,
    excluded,
    maxEntries,
    entries: Object.fromEntries(seen.entries),
    listed: [...seen.listed],
  };
  return { snapshot, check: () => checkOutsideWrites(snapshot) };
}

/** Compare the present state with a stored snapshot (see {@link outsideWriteProbe}). */
export async function checkOutsideWrites(snapshot: OutsideSnapshot): Promise<ScopeGateResult> {
  const now = await walkAreas(snapshot.areas, snapshot.excluded, snapshot.maxEntries);
  const listedBefore = new Set(snapshot.listed);
  const changed = new Map<string, string>();
  for (const [file, print] of Object.entries(snapshot.entries)) {
    const current = now.entries.get(file);
    if (current === undefined && now.listed.has(path.dirname(file))) changed.set(file, 'deleted');
    else if (current === undefined || current === print) continue;
    else
      changed.set(file, print === ABSENT ? 'created' : current === ABSENT ? 'deleted' : 'modified');
  }
  for (const file of now.entries.keys()) {
    if (!(file in snapshot.entries) && listedBefore.has(path.dirname(file)))
      changed.set(file, 'created');
  }
  const violations: Violation[] = [];
  for (const area of snapshot.areas) {
    const mine = [...changed].filter(([file]) => owningArea(snapshot.areas, file) === area);
    const kept = area.checkout ? await dropCleanTracked(area.root, mine) : mine;
    violations.push(
      ...kept.map(([file, what]) => ({ path: file, why: 'outside-write' as const, detail: what })),
    );
  }
  return gateResult(
    'SCOPE_VIOLATION',
    violations.sort((a, b) => (a.path < b.path ? -1 : 1)),
  );
}

/**
 * The most specific area containing `file` (the hooks area wins over the checkout holding `.git`).
 */
function owningArea(areas: readonly Area[], file: string): Area | undefined {
  const containing = areas.filter(
    (area) => file === area.root || file.startsWith(area.root + path.sep),
  );
  return containing.sort((a, b) => b.root.length - a.root.length)[0];
}

interface Walk {
  readonly entries: Map<string, string>;
  readonly listed: Set<string>;
}

async function walkAreas(
  areas: readonly Area[],
  excluded: readonly string[],
  maxEntries: number,
): Promise<Walk> {
  const walk: Walk = { entries: new Map(), listed: new Set() };
  const skip = new Set(excluded);
  for (const area of areas) {
    // The root itself is an entry too, so a hooks dir or attributes file appearing is a change.
    const info = await lstat(area.root).catch(() => null);
    walk.entries.set(area.root, !info ? ABSENT : info.isDirectory() ? 'dir' : fingerprint(info));
    if (info?.isDirectory()) await walkDir(area, area.root, 1, skip, walk, maxEntries);
  }
  return walk;
}

/** Depth-limited recursive listing of `dir`, whose children sit at `depth`. */
async function walkDir(
  area: Area,
  dir: string,
  depth: number,
  skip: Set<string>,
  walk: Walk,
  maxEntries: number,
): Promise<void> {
  const names = await readdir(dir).catch(() => null);
  if (!names || walk.entries.size + names.length > maxEntries) return;
  walk.listed.add(dir);
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    if (skip.has(file) || (area.checkout && SKIP_NAMES.has(name))) continue;
    const info = await lstat(file).catch(() => null);
    if (!info) continue;
    if (!info.isDirectory()) walk.entries.set(file, fingerprint(info));
    else {
      if (area.reportDirs) walk.entries.set(file, 'dir');
      if (depth < area.maxDepth) await walkDir(area, file, depth + 1, skip, walk, maxEntries);
    }
  }
}

function fingerprint(info: Awaited<ReturnType<typeof lstat>>): string {
  const type = info.isSymbolicLink() ? 'link' : info.isFile() ? 'file' : 'other';
  return `${type}:${info.size}:${info.mtimeMs}:${info.ctimeMs}:${info.ino}`;
}

/**
 * Keep only changes git considers dirty (untracked, ignored, modified, deleted or staged): a
 * tracked
 * file that changed but matches the index and HEAD was put there by git (a merge), not by an agent.
 */
async function dropCleanTracked(
  checkout: string,
  changes: [string, string][],
): Promise<[string, string][]> {
  if (changes.length === 0) return changes;
  const status = await runGit(checkout, [
    'status',
    '--porcelain=v1',
    '-z',
    '--no-renames',
    '--untracked-files=all',
    '--ignored=matching',
  ]);
  const dirty = splitNul(status.stdout).map((line) =>
    path.join(checkout, line.slice(3).replace(/\/$/, '')),
  );
  const isDirty = (file: string) => dirty.some((d) => file === d || file.startsWith(d + path.sep));
  return changes.filter(([file]) => isDirty(file) || !file.startsWith(checkout + path.sep));
}
