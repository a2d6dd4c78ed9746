/**
 * A workspace clone's branch, index and files compared with or pointed at a commit in-process,
 * without a git process: the common case of a reset (the files already are the tip's, as the
 * last evaluation left them) and of following an accepted commit (the files are what was
 * committed).
 *
 * {@link holdsExactly} is deliberately stricter than `reset --hard` + `clean`: any path that is
 * not the tip's (untracked, ignored, an empty directory, a nested repository), any tracked file
 * whose bytes, type, permissions or link count differ, and the reset is left to git. So when it
 * says yes, git would have changed no file, and only the clone's branch and index are rewritten
 * (from the tip's tree, like `read-tree`: no stat data, git re-checks the files when it looks).
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, open, readlink, rename, unlink } from 'node:fs/promises';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setImmediate } from 'node:timers/promises';
import type { ObjectStore } from './object-store.js';
import { algorithmOf, gitRefusesPath, objectId, type HashAlgorithm } from './object-writer.js';
import { hashingStarted, knownBlob, rememberBlob } from './known-blobs.js';
import { LruCache } from './lru-cache.js';
import { LOOPWRIGHT_DIR } from './repository.js';
import { STAT_SLICE, statOrNull } from './sync-stat.js';
import { readWalkedFile } from './untrusted-file.js';

/** One entry of a commit's flat tree listing. */
export interface CloneTreeEntry {
  readonly mode: string;
  readonly sha: string;
}

/**
 * True when the workspace's files (everything but `.git/` and `.loopwright/`) are exactly `tree`:
 * the same paths, no other file or directory, each regular file with the blob's bytes, its
 * executable bit, the permissions git would create it with and a single link, each symlink with
 * the blob as target, each gitlink an empty directory. Stops at the first difference.
 *
 * @example
 * ```ts
 * if (!(await holdsExactly(wt.path, tree, algorithmOf(tip)))) await gitResetHard(wt, tip);
 * ```
 */
export async function holdsExactly(
  root: string,
  tree: ReadonlyMap<string, CloneTreeEntry>,
  algorithm: HashAlgorithm,
): Promise<boolean> {
  // Anything unreadable (a folder or file an agent made private, a path that vanished) is a
  // difference too: git is left to sort it out.
  return compareFiles(root, tree, algorithm).catch(() => false);
}

async function compareFiles(
  root: string,
  tree: ReadonlyMap<string, CloneTreeEntry>,
  algorithm: HashAlgorithm,
): Promise<boolean> {
  const dirs = new Set<string>();
  for (const file of tree.keys()) {
    const parts = file.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const files: { rel: string; entry: CloneTreeEntry }[] = [];
  const seen = await walk(root, '', tree, dirs, files);
  if (seen === null || seen !== tree.size) return false;
  const umask = process.umask();
  const started = hashingStarted();
  for (const [i, { rel, entry }] of files.entries()) {
    // Synchronous lstat (a thread-pool hop per file costs more than the call), in slices.
    if (i % STAT_SLICE === STAT_SLICE - 1) await setImmediate();
    const full = path.join(root, rel);
    const info = statOrNull(full);
    if (!info) return false;
    if (entry.mode !== '120000') {
      const exec = entry.mode === '100755';
      const wanted = BigInt((exec ? 0o777 : 0o666) & ~umask);
      if (!info.isFile() || info.nlink !== 1n || (info.mode & 0o777n) !== wanted) return false;
    } else if (!info.isSymbolicLink()) return false;
    // A file unchanged since this process hashed it is not read again (known-blobs.ts).
    const known = knownBlob(root, rel, info);
    if (known !== undefined) {
      if (known !== entry.sha) return false;
      continue;
    }
    const bytes =
      entry.mode === '120000' ? Buffer.from(await readlink(full)) : await readWalkedFile(full);
    const sha = objectId('blob', bytes, algorithm);
    rememberBlob(root, rel, info, sha, started);
    if (sha !== entry.sha) return false;
  }
  return true;
}

/**
 * Count the tree's paths found under `rel` (regular files and links queued in `files` for
 * hashing), or null at the first path that is not the tree's.
 */
async function walk(
  root: string,
  rel: string,
  tree: ReadonlyMap<string, CloneTreeEntry>,
  dirs: ReadonlySet<string>,
  files: { rel: string; entry: CloneTreeEntry }[],
): Promise<number | null> {
  let seen = 0;
  // Synchronous readdir, as the lstat of each file below: one thread-pool hop per folder cost
  // more than the listing.
  for (const dirent of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const name = dirent.name;
    // `.git` was checked intact by the caller; the handover folder stays only as a real folder
    // (clean removes anything else by that name).
    if (rel === '' && name === '.git') continue;
    if (rel === '' && name === LOOPWRIGHT_DIR) {
      if (!dirent.isDirectory()) return null;
      continue;
    }
    const child = rel ? `${rel}/${name}` : name;
    const entry = tree.get(child);
    if (dirent.isDirectory()) {
      if (entry?.mode === '160000') {
        if (readdirSync(path.join(root, child)).length !== 0) return null;
        seen++;
        continue;
      }
      if (!dirs.has(child)) return null;
      const below = await walk(root, child, tree, dirs, files);
      if (below === null) return null;
      seen += below;
      continue;
    }
    if (!entry) return null;
    const link = entry.mode === '120000';
    if (link ? !dirent.isSymbolicLink() : !dirent.isFile() || entry.mode === '160000') return null;
    files.push({ rel: child, entry });
    seen++;
  }
  return seen;
}

/** Larger trees are checked out by git, which writes many files faster than one read each. */
const MAX_FILES_WRITTEN = 1_000;
const MAX_BLOB_BYTES = 8 * 1024 * 1024;

/**
 * Write `tree`'s files into `root`, an empty new workspace (beside its `.git`), from the object
 * store: regular files with git's permissions (umask applied), symlinks as links, gitlinks as
 * empty folders; every file created new, no folder made through a link. False as soon as git
 * should do it instead (a large tree or blob, an odd path or object): the caller then resets
 * with git over whatever was written.
 *
 * @example
 * ```ts
 * if (!(await writeCloneFiles(wt.path, objectStore(wt.repoGitDir), tree))) await gitReset();
 * ```
 */
export async function writeCloneFiles(
  root: string,
  store: ObjectStore,
  tree: ReadonlyMap<string, CloneTreeEntry>,
): Promise<boolean> {
  if (tree.size > MAX_FILES_WRITTEN) return false;
  const made = new Set<string>(['']);
  let written = 0;
  // Synchronous writes, in slices (as the walks in sync-stat.ts): a thread-pool hop per file
  // costs more than the file itself for the small files of a small tree.
  for (const [rel, entry] of tree) {
    if (gitRefusesPath(rel, entry.mode)) return false;
    if (++written % STAT_SLICE === 0) await setImmediate();
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      if (made.has(folder)) continue;
      if (tree.has(folder)) return false; // a file and a folder by one name: malformed
      mkdirSync(path.join(root, folder));
      made.add(folder);
    }
    const full = path.join(root, rel);
    if (entry.mode === '160000') {
      mkdirSync(full);
      made.add(rel);
      continue;
    }
    const blob = await store.read(entry.sha, { maxBytes: MAX_BLOB_BYTES }).catch(() => null);
    if (blob?.type !== 'blob') return false;
    if (entry.mode === '120000') symlinkSync(blob.content, full);
    else
      writeFileSync(full, blob.content, {
        flag: 'wx',
        mode: entry.mode === '100755' ? 0o777 : 0o666,
      });
  }
  return true;
}

/**
 * Point the clone (its git dir `cloneGitDir`, whose HEAD is the symbolic ref `branchRef`) at
 * `commit`: the branch ref and a fresh index of `tree` (stage 0, no stat data, as `read-tree`
 * writes it), each written to a new file and renamed into place. False (nothing written) when a
 * directory on the ref's path is not a real directory: git is left to do it then.
 *
 * @example
 * ```ts
 * await pointCloneAt(path.join(wt.path, '.git'), 'refs/heads/loopwright/LW-1', tip, tree);
 * ```
 */
export async function pointCloneAt(
  cloneGitDir: string,
  branchRef: string,
  commit: string,
  tree: ReadonlyMap<string, CloneTreeEntry>,
): Promise<boolean> {
  const refFile = path.join(cloneGitDir, ...branchRef.split('/'));
  let dir = cloneGitDir;
  for (const part of branchRef.split('/').slice(0, -1)) {
    dir = path.join(dir, part);
    if (!(await lstat(dir).catch(() => null))?.isDirectory()) return false;
  }
  await replaceUnlessSame(path.join(cloneGitDir, 'index'), indexOf(commit, tree));
  await replaceUnlessSame(refFile, Buffer.from(`${commit}\n`));
  return true;
}

/**
 * The index bytes for `commit` (whose tree `tree` is): encoded once, then kept for the next
 * pointing at it — a commit's tree never changes, and every reset between two runs of a ticket
 * points the clone at the same commit again (encoding a 2,000-file tree's index took 5-8 ms).
 */
function indexOf(commit: string, tree: ReadonlyMap<string, CloneTreeEntry>): Buffer {
  const key = `${commit}:${tree.size}`;
  return INDEXES.get(key) ?? INDEXES.set(key, encodeIndex(tree, algorithmOf(commit)));
}

/**
 * `commit:entries` -> its index file's bytes, 16 MiB in all (a 2,000-file tree's index is
 * ~170 KB), least recently used out.
 */
const INDEXES = new LruCache<string, Buffer>(16 * 1024 * 1024, (bytes) => bytes.length);

/**
 * {@link replaceFile}, skipped when `file` is already a regular file holding exactly `bytes` (the
 * common case between two jobs of a ticket: reading is far cheaper than creating and renaming).
 */
async function replaceUnlessSame(file: string, bytes: Buffer): Promise<void> {
  const info = statOrNull(file);
  const same = info?.isFile() && info.nlink === 1n && info.size === BigInt(bytes.length);
  if (same && readFileSync(file).equals(bytes)) return;
  await replaceFile(file, bytes);
}

/**
 * An index file (version 2) holding `tree`'s entries at stage 0 with zeroed stat data, sorted by
 * path bytes, with git's trailing checksum.
 */
export function encodeIndex(
  tree: ReadonlyMap<string, CloneTreeEntry>,
  algorithm: HashAlgorithm,
): Buffer {
  const hashBytes = algorithm === 'sha256' ? 32 : 20;
  const names = [...tree.keys()].map((p) => Buffer.from(p)).sort((a, b) => Buffer.compare(a, b));
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.write('DIRC', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(names.length, 8);
  parts.push(header);
  for (const name of names) {
    const entry = tree.get(name.toString())!;
    const fixed = 40 + hashBytes + 2;
    const size = Math.floor((fixed + name.length + 8) / 8) * 8;
    const buf = Buffer.alloc(size);
    buf.writeUInt32BE(Number.parseInt(entry.mode, 8), 24);
    Buffer.from(entry.sha, 'hex').copy(buf, 40);
    buf.writeUInt16BE(Math.min(name.length, 0xfff), 40 + hashBytes);
    name.copy(buf, fixed);
    parts.push(buf);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash(algorithm).update(body).digest()]);
}

/** Write `bytes` to a new file beside `file`, then rename it over `file` (a link is replaced). */
async function replaceFile(file: string, bytes: Buffer): Promise<void> {
  const tmp = `${file}.lw-${randomBytes(6).toString('hex')}`;
  const handle = await open(tmp, 'wx', 0o644);
  try {
    await handle.writeFile(bytes);
  } finally {
    await handle.close();
  }
  await rename(tmp, file).catch(async (error: unknown) => {
    await unlink(tmp).catch(() => {});
    throw error;
  });
}
