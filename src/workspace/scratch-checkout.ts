/**
 * Scratch checkouts: exactly the tree of one commit, written from git objects into a uniquely
 * named directory of this process, removed afterwards or kept for the next checkout of the same
 * repository, which first removes whatever it cannot vouch for (scratch-pool.ts). Gates (RED,
 * GREEN, the merge check, the live check) run here so that nothing outside the commit can
 * influence them.
 *
 * No `git worktree` (no registry entries that parallel workers could collide on), no index, no
 * `checkout-index`: the tree is listed and blob bytes are read through the repository's object
 * store (object-store.ts, one long-lived `cat-file --batch-command`), which never runs
 * clean/smudge filters, eol conversion, `export-ignore`/`export-subst`, hooks or any program
 * named in the repository's config. Symlinks stay symlinks, executable bits
 * are kept, submodules (gitlinks) become empty directories, as `git checkout` leaves them.
 */
import {
  type BigIntStats,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { nameOwnerGone, ownerTag } from '../agents/process-identity.js';
import { resolveHome } from '../config/home.js';
import { BadInputError, LoopwrightError } from '../errors.js';
import { logger } from '../log/logger.js';
import { GitError, startGit } from './git.js';
import {
  ISOLATED_GIT_ENV,
  type ObjectStore,
  ObjectStoreError,
  objectStore,
} from './object-store.js';
import { commonGitDir } from './repository.js';
import {
  givePooled,
  type PooledFile,
  type PooledScratch,
  pruneToTree,
  stampHandout,
  takeAllPooled,
  takePooled,
} from './scratch-pool.js';

/** Every scratch checkout's directory name starts with this (what `gc` sweeps). */
export const SCRATCH_DIR_PREFIX = 'scratch-';

/**
 * Upper bound on the blob bytes held in memory at once; a larger blob is streamed to its file by
 * its own `cat-file blob`.
 */
const BATCH_BYTES = 32 * 1024 * 1024;

/** A commit's tree could not be materialized safely (a crafted tree, a missing object). */
export class ScratchCheckoutError extends LoopwrightError {
  constructor(
    code: 'SCRATCH_TREE_INVALID' | 'SCRATCH_OBJECT_MISSING',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** Options for {@link withScratchCheckout}. */
export interface ScratchCheckoutOptions {
  /**
   * Replace everything at `paths` (files or directories, repository-relative) with what `commit`
   * has there: its files are written, and files of the main commit under those paths that
   * `commit` does not have are left out. E.g. the BUILD commit with the RED commit's test files.
   */
  readonly overlay?: { readonly commit: string; readonly paths: readonly string[] };
  /**
   * loopwright's home: the scratch directory goes under `<home>/tmp`. Default {@link
   * scratchRoot}().
   */
  readonly home?: string;
  /** Exact directory to create the scratch directory in (overrides `home`). */
  readonly root?: string;
  /**
   * Run on the directory once it holds the tree, before the moment that later changes are
   * measured from (e.g. handing it to the sandbox user, whose chown would otherwise count as a
   * change): see scratch-pool.ts.
   */
  readonly prepare?: (dir: string) => Promise<void>;
  /**
   * Keep the directory afterwards for the next checkout of this repository, which then writes
   * only what differs (default true); false removes it at once.
   */
  readonly reuse?: boolean;
}

/** One entry of a materialized tree. */
interface TreeEntry {
  readonly mode: string;
  readonly sha: string;
  readonly path: string;
}

/**
 * Where scratch checkouts live: `$LOOPWRIGHT_HOME/tmp` (`~/.loopwright/tmp` by default).
 *
 * @example
 * scratchRoot({ LOOPWRIGHT_HOME: '/srv/factory' }); // '/srv/factory/tmp'
 */
export function scratchRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(resolveHome(env), 'tmp');
}

/**
 * Materialize exactly the tree of `commit` (from `repoGitDir`, a repository or its git dir) into a
 * unique directory, call `fn(dir)`, and afterwards keep the directory for the next checkout of the
 * repository (scratch-pool.ts: it is brought back to exactly the next tree, writing only what
 * differs) or remove it, also when `fn` throws.
 *
 * @throws {BadInputError} when `commit` (or the overlay commit) names no commit.
 * @throws {ScratchCheckoutError} for a tree that cannot be written safely.
 *
 * @example
 * ```ts
 * const result = await withScratchCheckout(repo.path, buildCommit, (dir) =>
 *   runCommandGate(repo.test_cmd, dir, { timeoutMs }),
 *   { overlay: { commit: redCommit, paths: redTestFiles } },
 * );
 * ```
 */
export async function withScratchCheckout<T>(
  repoGitDir: string,
  commit: string,
  fn: (dir: string) => Promise<T>,
  options: ScratchCheckoutOptions = {},
): Promise<T> {
  const gitDir = await commonGitDir(repoGitDir);
  const store = objectStore(gitDir);
  const entries = await plannedEntries(store, commit, options.overlay);
  const root = options.root ?? (options.home ? path.join(options.home, 'tmp') : scratchRoot());
  await mkdir(root, { recursive: true, mode: 0o700 });
  const reuse = options.reuse ?? true;
  const scratch =
    (reuse ? await reusedScratch(store, root, gitDir, entries) : undefined) ??
    (await freshScratch(store, root, commit, entries));
  try {
    await options.prepare?.(scratch.dir);
    await stampHandout(scratch);
    return await fn(scratch.dir);
  } finally {
    if (!reuse || !givePooled(root, gitDir, scratch)) await removeScratchTree(scratch.dir);
  }
}

/**
 * Remove the scratch directories this process keeps for reuse (under `root`, or all); returns
 * their paths. The factory calls it when it stops.
 *
 * @example
 * ```ts
 * await drainScratchPool(path.join(home, 'tmp'));
 * ```
 */
export async function drainScratchPool(root?: string): Promise<string[]> {
  const taken = takeAllPooled(root);
  for (const scratch of taken) await removeScratchTree(scratch.dir);
  return taken.map((s) => s.dir);
}

/** A new directory holding exactly `entries`. */
async function freshScratch(
  store: ObjectStore,
  root: string,
  commit: string,
  entries: readonly TreeEntry[],
): Promise<PooledScratch> {
  const name = `${SCRATCH_DIR_PREFIX}${commit.slice(0, 8)}-${ownerTag()}`;
  const dir = await mkdtemp(path.join(root, name));
  try {
    return { dir, files: await writeTree(store, dir, entries, new Set()), handedOutAt: 0n };
  } catch (error) {
    await removeScratchTree(dir);
    throw error;
  }
}

/**
 * A pooled directory of this repository made to hold exactly `entries` (only what differs is
 * written), or undefined when there is none or it cannot be brought there (it is removed then).
 */
async function reusedScratch(
  store: ObjectStore,
  root: string,
  gitDir: string,
  entries: readonly TreeEntry[],
): Promise<PooledScratch | undefined> {
  const scratch = takePooled(root, gitDir);
  if (!scratch) return undefined;
  const files = new Map(entries.filter((e) => e.mode !== '160000').map((e) => [e.path, e]));
  try {
    const kept = await pruneToTree(scratch, { files, dirs: treeDirs(entries) });
    const written = await writeTree(store, scratch.dir, entries, kept);
    for (const [p, file] of written) scratch.files.set(p, file);
    return scratch;
  } catch (error) {
    await removeScratchTree(scratch.dir);
    if (error instanceof ScratchCheckoutError) throw error;
    logger().debug({ dir: scratch.dir, err: error }, 'Pooled scratch checkout discarded');
    return undefined;
  }
}

/**
 * Scratch directories under `root` whose creator is gone (its pid and start time in the name no
 * longer match a process), or whose mtime is older than `olderThanMs` (names without a creator).
 * Directories of running checkouts belong to live processes and are younger than any sensible
 * threshold. The home's `tmp` is this host's: a process elsewhere never shares it.
 *
 * @example
 * ```ts
 * const stale = await listStaleScratchCheckouts({ root: scratchRoot(), olderThanMs: 86_400_000 });
 * ```
 */
export async function listStaleScratchCheckouts(options: {
  readonly root?: string;
  readonly olderThanMs: number;
  readonly now?: number;
  /** Name prefix of the directories (default {@link SCRATCH_DIR_PREFIX}). */
  readonly prefix?: string;
}): Promise<string[]> {
  const root = options.root ?? scratchRoot();
  const now = options.now ?? Date.now();
  const prefix = options.prefix ?? SCRATCH_DIR_PREFIX;
  const names = await readdir(root).catch(() => [] as string[]);
  const stale: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const full = path.join(root, name);
    const info = await lstat(full).catch(() => null);
    if (!info?.isDirectory()) continue;
    if (nameOwnerGone(name) || now - info.mtimeMs >= options.olderThanMs) stale.push(full);
  }
  return stale;
}

/**
 * Remove scratch directories under `root` older than `olderThanMs`; returns the removed paths.
 *
 * @example
 * ```ts
 * await sweepScratchCheckouts({ root: scratchRoot(), olderThanMs: 24 * 3600_000 });
 * ```
 */
export async function sweepScratchCheckouts(options: {
  readonly root?: string;
  readonly olderThanMs: number;
  readonly now?: number;
}): Promise<string[]> {
  const stale = await listStaleScratchCheckouts(options);
  for (const dir of stale) await removeScratchTree(dir);
  return stale;
}

/** The entries to write: the commit's tree, with the overlay's paths taken from its commit. */
async function plannedEntries(
  store: ObjectStore,
  commit: string,
  overlay: ScratchCheckoutOptions['overlay'],
): Promise<TreeEntry[]> {
  const base = await listTree(store, commit);
  if (!overlay || overlay.paths.length === 0) return checkedEntries(base);
  const prefixes = overlay.paths.map(normalizeOverlayPath);
  const covered = (p: string) => prefixes.some((pre) => p === pre || p.startsWith(`${pre}/`));
  const fromOverlay = (await listTree(store, overlay.commit)).filter((e) => covered(e.path));
  // An overlay file may sit where the main commit has a directory, or the reverse: overlay wins.
  const overlayPaths = new Set(fromOverlay.map((e) => e.path));
  const clashes = (p: string) =>
    [...ancestors(p)].some((a) => overlayPaths.has(a)) ||
    fromOverlay.some((e) => e.path.startsWith(`${p}/`));
  const kept = base.filter((e) => !covered(e.path) && !clashes(e.path));
  return checkedEntries([...kept, ...fromOverlay]);
}

/** Every blob, symlink and gitlink of a commit's tree (an unknown commit is bad input). */
async function listTree(store: ObjectStore, commit: string): Promise<TreeEntry[]> {
  let listed: Awaited<ReturnType<ObjectStore['listTree']>>;
  try {
    listed = await store.listTree(`${commit}^{commit}`);
  } catch (error) {
    if (!(error instanceof ObjectStoreError)) throw error;
    const code =
      error.code === 'OBJECT_MISSING' ? 'SCRATCH_OBJECT_MISSING' : 'SCRATCH_TREE_INVALID';
    throw new ScratchCheckoutError(code, `cannot check out ${commit}: ${error.message}`, {
      cause: error,
    });
  }
  if (!listed) throw new BadInputError(`unknown commit ${commit} in ${store.gitDir}`);
  return [...listed].map(([p, e]) => ({ mode: e.mode, sha: e.sha, path: p }));
}

/** Refuse what git itself would never check out: `..`, `.git`, duplicates, a file used as a dir. */
function checkedEntries(entries: TreeEntry[]): TreeEntry[] {
  const leaves = new Set<string>();
  for (const entry of entries) {
    const parts = entry.path.split('/');
    const bad = parts.some(
      (p) => p === '' || p === '.' || p === '..' || p.toLowerCase() === '.git',
    );
    if (badSha(entry) || bad || leaves.has(entry.path))
      invalid(entry.path, 'unsafe or duplicate path');
    if (!['100644', '100755', '100664', '120000', '160000'].includes(entry.mode))
      invalid(entry.path, `unsupported mode ${entry.mode}`);
    leaves.add(entry.path);
  }
  for (const entry of entries) {
    for (const parent of ancestors(entry.path))
      if (leaves.has(parent)) invalid(entry.path, `${parent} is both a file and a directory`);
  }
  return entries;
}

function badSha(entry: TreeEntry): boolean {
  return !/^[0-9a-f]{40,64}$/.test(entry.sha);
}

function invalid(p: string, why: string): never {
  throw new ScratchCheckoutError('SCRATCH_TREE_INVALID', `cannot check out ${p}: ${why}`);
}

/** Every directory the entries need: their parents, and gitlinks (kept as empty directories). */
function treeDirs(entries: readonly TreeEntry[]): Set<string> {
  const dirs = new Set<string>();
  for (const e of entries) {
    for (const parent of ancestors(e.path)) dirs.add(parent);
    if (e.mode === '160000') dirs.add(e.path);
  }
  return dirs;
}

/** `a/b/c` -> `a`, `a/b`. */
function* ancestors(p: string): Generator<string> {
  let i = p.indexOf('/');
  while (i !== -1) {
    yield p.slice(0, i);
    i = p.indexOf('/', i + 1);
  }
}

function normalizeOverlayPath(raw: string): string {
  const p = raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (p === '' || path.isAbsolute(p) || p.split('/').some((s) => s === '..' || s === '.'))
    throw new BadInputError(`overlay path must be repository-relative: ${raw}`);
  return p;
}

/**
 * Write every entry not in `kept` into `dir` (directories that exist are kept): blob sizes asked
 * first, then contents read in rounds of at most {@link BATCH_BYTES} (requests pipelined), a blob
 * larger than that streamed on its own. Returns what was written where (inode and size).
 */
async function writeTree(
  store: ObjectStore,
  dir: string,
  entries: readonly TreeEntry[],
  kept: ReadonlySet<string>,
): Promise<Map<string, PooledFile>> {
  const blobs = entries.filter((e) => e.mode !== '160000' && !kept.has(e.path));
  // Every directory once, parents first (not an lstat of each path component per file).
  for (const rel of [...treeDirs(entries)].sort()) makeDir(dir, rel);
  const infos = await Promise.all(blobs.map((e) => store.info(e.sha)));
  const sized = blobs.map((entry, i) => {
    const info = infos[i];
    if (info?.type !== 'blob') missing(store, entry);
    return { entry, size: info.size };
  });
  const written = new Map<string, PooledFile>();
  let round: TreeEntry[] = [];
  let bytes = 0;
  for (const { entry, size } of sized) {
    if (size > BATCH_BYTES) {
      await streamEntry(store, dir, entry);
      written.set(entry.path, pooledFile(entry, lstatSync(path.join(dir, entry.path), BIG)));
      continue;
    }
    if (bytes + size > BATCH_BYTES) {
      await writeRound(store, dir, round, written);
      round = [];
      bytes = 0;
    }
    round.push(entry);
    bytes += size;
  }
  await writeRound(store, dir, round, written);
  return written;
}

const BIG = { bigint: true } as const;

function pooledFile(entry: TreeEntry, info: BigIntStats): PooledFile {
  return { mode: entry.mode, sha: entry.sha, ino: info.ino, size: info.size };
}

/** Files written per slice before the event loop gets a turn. */
const WRITE_SLICE = 64;

async function writeRound(
  store: ObjectStore,
  dir: string,
  round: readonly TreeEntry[],
  written: Map<string, PooledFile>,
): Promise<void> {
  const reads = round.map((e) => store.read(e.sha, { maxBytes: BATCH_BYTES }));
  for (const pending of reads) pending.catch(() => undefined); // each is awaited below
  for (const [i, entry] of round.entries()) {
    const blob = await reads[i]!;
    if (blob?.type !== 'blob') missing(store, entry);
    // Small files are written with synchronous calls (no thread-pool hop per call: a tree of
    // thousands of files is written in tens of milliseconds), in slices so other work runs.
    written.set(entry.path, pooledFile(entry, writeEntry(dir, entry, blob.content)));
    if (i % WRITE_SLICE === WRITE_SLICE - 1) await setImmediate();
  }
}

function missing(store: ObjectStore, entry: TreeEntry): never {
  throw new ScratchCheckoutError(
    'SCRATCH_OBJECT_MISSING',
    `${entry.path}: object ${entry.sha} is missing from ${store.gitDir} or not a blob`,
  );
}

/** A blob too large to hold in memory: its own `cat-file blob`, piped into the new file. */
async function streamEntry(store: ObjectStore, dir: string, entry: TreeEntry): Promise<void> {
  if (entry.mode === '120000') invalid(entry.path, 'symlink target too long');
  const handle = await openNew(path.join(dir, entry.path), entry.mode);
  const args = ['cat-file', 'blob', entry.sha];
  const child = startGit(store.gitDir, args, { gitDir: store.gitDir, env: ISOLATED_GIT_ENV });
  child.stdin.end();
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(null));
    child.on('close', (code) => resolve(code));
  });
  try {
    await handle.chmod(entry.mode === '100755' ? 0o755 : 0o644);
  } catch (error) {
    child.kill('SIGKILL');
    await handle.close();
    throw error;
  }
  // The stream owns the handle from here on and closes it, also on failure.
  await pipeline(child.stdout, handle.createWriteStream()).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  const code = await exited;
  if (code !== 0) throw new GitError(args, store.gitDir, code ?? undefined, 'blob not streamed');
}

/** O_EXCL + O_NOFOLLOW: never write through anything that already exists at the path. */
function openNew(target: string, gitMode: string) {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  return open(target, flags, gitMode === '100755' ? 0o755 : 0o644);
}

/** Write one blob or symlink as a new entry; returns its status (inode and size). */
function writeEntry(dir: string, entry: TreeEntry, content: Buffer): BigIntStats {
  const target = path.join(dir, entry.path);
  if (entry.mode === '120000') {
    symlinkSync(content.toString('utf8'), target);
    return lstatSync(target, BIG);
  }
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const mode = entry.mode === '100755' ? 0o755 : 0o644;
  const fd = openSync(target, flags, mode);
  try {
    let written = 0;
    while (written < content.length)
      written += writeSync(fd, content, written, content.length - written);
    fchmodSync(fd, mode);
    return fstatSync(fd, BIG);
  } finally {
    closeSync(fd);
  }
}

/** Create directory `rel` under `dir` (its parents exist); a symlink in the way is refused. */
function makeDir(dir: string, rel: string): void {
  const current = path.join(dir, rel);
  const info = lstatSync(current, { throwIfNoEntry: false });
  if (!info) mkdirSync(current, { mode: 0o755 });
  else if (!info.isDirectory()) invalid(rel, 'not a directory');
}

/** `rm -rf`, also when a gate left directories without write permission. */
export async function removeScratchTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (error) {
    logger().debug({ dir, err: error }, 'Scratch checkout removal retried after chmod');
    await makeWritable(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

async function makeWritable(dir: string): Promise<void> {
  const info = await lstat(dir).catch(() => null);
  if (!info?.isDirectory()) return;
  await chmod(dir, 0o700).catch(() => undefined);
  for (const name of await readdir(dir).catch(() => [] as string[]))
    await makeWritable(path.join(dir, name));
}
