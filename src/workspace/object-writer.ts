/**
 * Git objects written in-process, as loose objects of a repository's store: what
 * `hash-object -w`, `write-tree` and `commit-tree` would write, without a git process. An object
 * is `<type> <size>\0<body>`, named by its hash (sha1, or sha256 in a sha256 repository), stored
 * zlib-deflated at `objects/<2 hex>/<rest>`. As git does, it is written to a temporary file in
 * that directory and then hard-linked to its name, so an existing object is never overwritten and
 * a reader never sees half an object. No config, attribute, filter or hook takes part.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  statSync,
  unlinkSync,
  writeFile,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { deflate, deflateSync, constants as zlib } from 'node:zlib';
import { LOOPWRIGHT_IDENTITY } from './git.js';

/** The object formats git has. */
export type HashAlgorithm = 'sha1' | 'sha256';

/** The kinds of object the orchestrator writes. */
export type ObjectType = 'blob' | 'tree' | 'commit';

/** One entry of a flat tree listing: path -> mode and object id. */
export interface FlatEntry {
  readonly mode: string;
  readonly sha: string;
}

const deflateAsync = promisify(deflate);
const writeFd = promisify(writeFile);

/**
 * Objects up to this size are deflated and written with synchronous calls: a commit or tree, or
 * an ordinary source file, is a handful of local syscalls, where a hop through libuv's thread pool
 * per call (eight per object) cost milliseconds per commit on a busy machine. Larger blobs are
 * deflated and written off the event loop.
 */
const SYNC_OBJECT_BYTES = 1024 * 1024;

/** The format a repository uses, told by one of its object ids (40 or 64 hex digits). */
export function algorithmOf(objectId: string): HashAlgorithm {
  return objectId.length === 64 ? 'sha256' : 'sha1';
}

/** The id git gives an object of `type` with these bytes. */
export function objectId(type: ObjectType, body: Uint8Array, algorithm: HashAlgorithm): string {
  return createHash(algorithm).update(`${type} ${body.length}\0`).update(body).digest('hex');
}

/**
 * Write one object into `objectsDir` (a repository's `objects/`) and return its id; an object
 * already stored loose is left as it is.
 *
 * @example
 * ```ts
 * const sha = await writeObject(path.join(gitDir, 'objects'), 'blob', Buffer.from('hi\n'), 'sha1');
 * ```
 */
export async function writeObject(
  objectsDir: string,
  type: ObjectType,
  body: Uint8Array,
  algorithm: HashAlgorithm,
): Promise<string> {
  const sha = objectId(type, body, algorithm);
  const dir = path.join(objectsDir, sha.slice(0, 2));
  const file = path.join(dir, sha.slice(2));
  if (statSync(file, { throwIfNoEntry: false })) return sha;
  ensureFanoutDir(objectsDir, dir);
  const raw = Buffer.concat([Buffer.from(`${type} ${body.length}\0`), body]);
  const small = raw.length <= SYNC_OBJECT_BYTES;
  const options = { level: zlib.Z_BEST_SPEED };
  const packed = small ? deflateSync(raw, options) : await deflateAsync(raw, options);
  const tmp = path.join(dir, `tmp_obj_lw${process.pid}_${Math.random().toString(36).slice(2)}`);
  const fd = openSync(tmp, 'wx', 0o444);
  try {
    if (small) writeFileSync(fd, packed);
    else await writeFd(fd, packed);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
  } catch (error) {
    // Another writer stored the same object first: same name, same bytes.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {}
  }
  return sha;
}

/**
 * Write the trees of a flat listing (`path -> mode, sha`, blobs, links and gitlinks) and return
 * the root tree's id. Paths must be valid in git (see {@link gitRefusesPath}).
 *
 * @example
 * ```ts
 * const flat = new Map([['a/b.txt', { mode: '100644', sha }]]);
 * const tree = await writeTree(objectsDir, flat, 'sha1');
 * ```
 */
export async function writeTree(
  objectsDir: string,
  flat: ReadonlyMap<string, FlatEntry>,
  algorithm: HashAlgorithm,
): Promise<string> {
  const root: TreeNode = new Map();
  for (const [file, entry] of flat) {
    if (gitRefusesPath(file, entry.mode)) throw new Error(`git refuses the path ${file}`);
    const parts = file.split('/');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      let child = node.get(part);
      if (!(child instanceof Map)) node.set(part, (child = new Map()));
      node = child;
    }
    node.set(parts.at(-1)!, entry);
  }
  return writeNode(objectsDir, root, algorithm);
}

type TreeNode = Map<string, TreeNode | FlatEntry>;

async function writeNode(
  objectsDir: string,
  node: TreeNode,
  algorithm: HashAlgorithm,
): Promise<string> {
  const entries: { name: string; mode: string; sha: string }[] = [];
  for (const [name, child] of node) {
    if (child instanceof Map)
      entries.push({ name, mode: '40000', sha: await writeNode(objectsDir, child, algorithm) });
    else entries.push({ name, mode: child.mode, sha: child.sha });
  }
  return writeObject(objectsDir, 'tree', encodeTree(entries), algorithm);
}

/**
 * A tree object's body: `<mode> <name>\0<binary id>` per entry, in git's order (names compared
 * as bytes, a subtree's as if it ended in `/`).
 */
export function encodeTree(
  entries: readonly { readonly name: string; readonly mode: string; readonly sha: string }[],
): Buffer {
  const keyed = entries.map((e) => ({
    e,
    key: Buffer.from(e.mode === '40000' ? `${e.name}/` : e.name),
  }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return Buffer.concat(
    keyed.flatMap(({ e }) => [Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.sha, 'hex')]),
  );
}

/** What a commit says besides its tree and parents. */
export interface CommitFields {
  readonly tree: string;
  readonly parents: readonly string[];
  /** The full message, as `commit-tree -F` takes it (end it with a newline). */
  readonly message: string;
  /** Default: now. */
  readonly when?: Date;
}

/**
 * Write a commit by loopwright (author and committer {@link LOOPWRIGHT_IDENTITY}, the local time
 * zone as git takes it from `TZ`), as `commit-tree` with that identity would.
 *
 * @example
 * ```ts
 * const sha = await writeCommit(objectsDir, { tree, parents: [tip], message: 'RED\n' }, 'sha1');
 * ```
 */
export async function writeCommit(
  objectsDir: string,
  fields: CommitFields,
  algorithm: HashAlgorithm,
): Promise<string> {
  return writeObject(objectsDir, 'commit', encodeCommit(fields), algorithm);
}

/** A commit object's body. */
export function encodeCommit(fields: CommitFields): Buffer {
  const when = fields.when ?? new Date();
  const offset = -when.getTimezoneOffset();
  const abs = Math.abs(offset);
  const zone = `${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(
    abs % 60,
  ).padStart(2, '0')}`;
  const who = `${LOOPWRIGHT_IDENTITY.name} <${LOOPWRIGHT_IDENTITY.email}> ${Math.floor(
    when.getTime() / 1000,
  )} ${zone}`;
  const head = [
    `tree ${fields.tree}`,
    ...fields.parents.map((p) => `parent ${p}`),
    `author ${who}`,
    `committer ${who}`,
  ];
  return Buffer.from(`${head.join('\n')}\n\n${fields.message}`);
}

/**
 * True for a path git will not put in a tree (`update-index` refuses it): an empty, `.` or `..`
 * component, a `.git` one (in any case, or as NTFS would read it), or a symlinked `.gitmodules`.
 */
export function gitRefusesPath(file: string, mode: string): boolean {
  return file.split('/').some((part) => {
    const lower = part.toLowerCase().replace(/[. ]+$/, '');
    if (part === '' || part === '.' || part === '..' || lower === '.git' || lower === 'git~1')
      return true;
    return mode === '120000' && lower === '.gitmodules';
  });
}

/**
 * The fan-out directory `objects/xx`, made as `git` makes it: with the objects directory's own
 * permissions when that is shared with a group (setgid or group-writable), else the umask's.
 */
function ensureFanoutDir(objectsDir: string, dir: string): void {
  if (statSync(dir, { throwIfNoEntry: false })) return;
  mkdirSync(dir, { recursive: true });
  const parent = statSync(objectsDir);
  if (parent.mode & 0o2020) {
    try {
      chmodSync(dir, parent.mode & 0o7777);
    } catch {}
  }
}
