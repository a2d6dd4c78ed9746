/**
 * Scratch checkouts: exactly the tree of one commit, written from git objects into a fresh,
 * uniquely named directory that is always removed afterwards. Gates (RED, GREEN, the merge check,
 * the live check) run here so that nothing outside the commit can influence them.
 *
 * No `git worktree` (no registry entries that parallel workers could collide on), no index, no
 * `checkout-index`: the tree is listed with `ls-tree` and blob bytes are read with `cat-file
 * --batch`, which never runs clean/smudge filters, eol conversion, `export-ignore`/`export-subst`,
 * hooks or any program named in the repository's config. Symlinks stay symlinks, executable bits
 * are kept, submodules (gitlinks) become empty directories, as `git checkout` leaves them.
 */
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, open, readdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { processStartTime } from '../agents/process-identity.js';
import { resolveHome } from '../config/home.js';
import { BadInputError, LoopwrightError } from '../errors.js';
import { logger } from '../log/logger.js';
import { GitError, resolveCommit, runGit, runGitBytes, splitNul } from './git.js';

/** Every scratch checkout's directory name starts with this (what `gc` sweeps). */
export const SCRATCH_DIR_PREFIX = 'scratch-';

/**
 * Config from outside the repository is never read while materializing a tree (no system or
 * global config, no global attributes file); what is left (the repository's own config) cannot
 * make `ls-tree`/`cat-file` run a program.
 */
const ISOLATED_GIT_ENV = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_ATTR_NOSYSTEM: '1',
  GIT_NO_REPLACE_OBJECTS: '1',
  GIT_NO_LAZY_FETCH: '1',
} as const;

/** Upper bound on the blob bytes read by one `cat-file --batch` process. */
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
}

/** One entry of a materialized tree. */
interface TreeEntry {
  readonly mode: string;
  readonly sha: string;
  readonly size: number;
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
 * new unique directory, call `fn(dir)`, and remove the directory afterwards, also when `fn` throws.
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
  const entries = await plannedEntries(repoGitDir, commit, options.overlay);
  const root = options.root ?? (options.home ? path.join(options.home, 'tmp') : scratchRoot());
  await mkdir(root, { recursive: true, mode: 0o700 });
  const name = `${SCRATCH_DIR_PREFIX}${commit.slice(0, 8)}-${ownerTag()}`;
  const dir = await mkdtemp(path.join(root, name));
  try {
    await writeTree(repoGitDir, dir, entries);
    return await fn(dir);
  } finally {
    await removeScratchTree(dir);
  }
}

/**
 * The creating process in a scratch directory's name (`p<pid>.<start time>-`), so that one left
 * behind by a killed process is recognized at once, not only after a day. Empty where the start
 * time is not a plain number (non-Linux).
 */
function ownerTag(): string {
  const started = processStartTime(process.pid);
  return started && /^\d+$/.test(started) ? `p${process.pid}.${started}-` : '';
}

/** Whether a scratch directory's name names its creator and that process is gone (this host). */
function ownerGone(name: string): boolean {
  const owner = /-p(\d+)\.(\d+)-[A-Za-z0-9]{6}$/.exec(name);
  return owner !== null && processStartTime(Number(owner[1])) !== owner[2];
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
    if (ownerGone(name) || now - info.mtimeMs >= options.olderThanMs) stale.push(full);
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
  repo: string,
  commit: string,
  overlay: ScratchCheckoutOptions['overlay'],
): Promise<TreeEntry[]> {
  const base = await listTree(repo, commit);
  if (!overlay || overlay.paths.length === 0) return checkedEntries(base);
  const prefixes = overlay.paths.map(normalizeOverlayPath);
  const covered = (p: string) => prefixes.some((pre) => p === pre || p.startsWith(`${pre}/`));
  const fromOverlay = (await listTree(repo, overlay.commit)).filter((e) => covered(e.path));
  // An overlay file may sit where the main commit has a directory, or the reverse: overlay wins.
  const overlayPaths = new Set(fromOverlay.map((e) => e.path));
  const clashes = (p: string) =>
    [...ancestors(p)].some((a) => overlayPaths.has(a)) ||
    fromOverlay.some((e) => e.path.startsWith(`${p}/`));
  const kept = base.filter((e) => !covered(e.path) && !clashes(e.path));
  return checkedEntries([...kept, ...fromOverlay]);
}

/**
 * `ls-tree -r` of a commit (one call; an unknown commit fails it): every blob, symlink and gitlink
 * with its size.
 */
async function listTree(repo: string, commit: string): Promise<TreeEntry[]> {
  const args = [
    'ls-tree',
    '-r',
    '-l',
    '-z',
    '--full-tree',
    '--end-of-options',
    `${commit}^{commit}`,
  ];
  const listed = await runGit(repo, args, { env: ISOLATED_GIT_ENV, okExitCodes: [0, 128] });
  if (listed.exitCode !== 0) {
    if (!(await resolveCommit(repo, commit)))
      throw new BadInputError(`unknown commit ${commit} in ${repo}`);
    throw new GitError(args, repo, listed.exitCode, listed.stderr);
  }
  return splitNul(listed.stdout).map((line) => {
    const tab = line.indexOf('\t');
    const [mode = '', , object = '', size = '-'] = line.slice(0, tab).split(/ +/);
    return { mode, sha: object, size: size === '-' ? 0 : Number(size), path: line.slice(tab + 1) };
  });
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

/** Write every entry into `dir`, reading blobs in size-bounded `cat-file --batch` rounds. */
async function writeTree(repo: string, dir: string, entries: readonly TreeEntry[]): Promise<void> {
  const blobs = entries.filter((e) => e.mode !== '160000');
  for (const e of entries) if (e.mode === '160000') await makeDirs(dir, e.path);
  let batch: TreeEntry[] = [];
  let bytes = 0;
  for (const entry of blobs) {
    if (batch.length > 0 && bytes + entry.size > BATCH_BYTES) {
      await writeBatch(repo, dir, batch);
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += entry.size;
  }
  if (batch.length > 0) await writeBatch(repo, dir, batch);
}

async function writeBatch(repo: string, dir: string, batch: readonly TreeEntry[]): Promise<void> {
  const input = batch.map((e) => `${e.sha}\n`).join('');
  const out = await runGitBytes(repo, ['cat-file', '--batch'], { input, env: ISOLATED_GIT_ENV });
  let at = 0;
  for (const entry of batch) {
    const eol = out.indexOf(0x0a, at);
    const header = out.subarray(at, eol).toString('utf8').split(' ');
    if (eol === -1 || header[1] !== 'blob' || header[0] !== entry.sha)
      throw new ScratchCheckoutError(
        'SCRATCH_OBJECT_MISSING',
        `${entry.path}: object ${entry.sha} is missing from ${repo} or not a blob`,
      );
    const size = Number(header[2]);
    const content = out.subarray(eol + 1, eol + 1 + size);
    at = eol + 1 + size + 1;
    await writeEntry(dir, entry, content);
  }
}

async function writeEntry(dir: string, entry: TreeEntry, content: Buffer): Promise<void> {
  await makeDirs(dir, path.dirname(entry.path));
  const target = path.join(dir, entry.path);
  if (entry.mode === '120000') {
    await symlink(content.toString('utf8'), target);
    return;
  }
  const mode = entry.mode === '100755' ? 0o755 : 0o644;
  // O_EXCL + O_NOFOLLOW: never write through anything that already exists at the path.
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await open(target, flags, mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/** Create `rel`'s directories under `dir`; a symlink in the way is refused, never followed. */
async function makeDirs(dir: string, rel: string): Promise<void> {
  if (rel === '.' || rel === '') return;
  let current = dir;
  for (const part of rel.split('/')) {
    current = path.join(current, part);
    const info = await lstat(current).catch(() => null);
    if (!info) await mkdir(current, { mode: 0o755 });
    else if (!info.isDirectory()) invalid(path.relative(dir, current), 'not a directory');
  }
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
