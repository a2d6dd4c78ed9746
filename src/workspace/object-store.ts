/**
 * Reading a repository's objects and refs without a git process per question: one long-lived,
 * hardened `git cat-file --batch-command` per git dir (started through git.ts, so with the same
 * config overrides, scrubbed environment and explicit `GIT_DIR` as every other git call), cached
 * in-process. Trees and commits are parsed here (git-objects.ts).
 *
 * git re-reads refs and looks for new loose objects and packs per request, so objects and ref
 * moves written by other processes are seen. Requests are pipelined and answered in order;
 * a reply larger than its cap is refused (the process is killed, nothing is buffered), a process
 * that dies is restarted and its unanswered requests are sent once more. The process and its
 * pipes are unref'd while idle (it never keeps node alive), it exits with its owner (EOF on its
 * stdin), after {@link IDLE_MS} without requests, or on {@link closeObjectStores}.
 */
import type { Socket } from 'node:net';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { LoopwrightError } from '../errors.js';
import { GitError, GitMissingError, startGit } from './git.js';
import { LruCache } from './lru-cache.js';
import {
  type CommitObject,
  MalformedObjectError,
  parseCommit,
  parseTree,
  TREE_MODE,
  type TreeEntry,
  type TreeRecord,
} from './git-objects.js';

/**
 * Config from outside the repository is never read (no system or global config, no global
 * attributes file); what is left (the repository's own config) cannot make `cat-file` run a
 * program.
 */
export const ISOLATED_GIT_ENV = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_ATTR_NOSYSTEM: '1',
  GIT_NO_REPLACE_OBJECTS: '1',
  GIT_NO_LAZY_FETCH: '1',
} as const;

/** Default cap on one object's content held in memory. */
export const MAX_OBJECT_BYTES = 32 * 1024 * 1024;

/** A reader idle this long ends its git process (the next request starts another). */
export const IDLE_MS = 60_000;

/** Caps of one recursive tree listing (a crafted tree must not exhaust memory or the stack). */
const MAX_TREE_ENTRIES = 1_000_000;
const MAX_TREE_DEPTH = 1_000;
/** Entries of tree listings kept per repository (~100 bytes each), least recently used out. */
const MAX_LISTED_ENTRIES = 200_000;

/** What `info` says about an object. */
export interface ObjectInfo {
  readonly sha: string;
  readonly type: string;
  readonly size: number;
}

/** An object with its content. */
export interface GitObject extends ObjectInfo {
  readonly content: Buffer;
}

/** An object could not be read: too large for its cap, missing where required, or malformed. */
export class ObjectStoreError extends LoopwrightError {
  constructor(
    code: 'OBJECT_TOO_LARGE' | 'OBJECT_MISSING' | 'OBJECT_MALFORMED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * A repository's object store, read through one long-lived git process. `name` is anything
 * `git rev-parse` takes (a sha, `refs/heads/main`, `<sha>^{tree}`, `<sha>^`), never a newline.
 *
 * @example
 * ```ts
 * const store = objectStore(repoGitDir);
 * const tip = await store.resolve('refs/heads/loopwright/LW-1^{commit}'); // sha or null
 * const commit = await store.readCommit(tip!); // { tree, parents, message }
 * const files = await store.listTree(tip!); // Map path -> { mode, sha }, like `ls-tree -r`
 * const blob = await store.read(files.get('README.md')!.sha, { maxBytes: 1 << 20 });
 * ```
 */
export interface ObjectStore {
  readonly gitDir: string;
  /** The object `name` names, or null when it names none. */
  info(name: string): Promise<ObjectInfo | null>;
  /** The sha `name` names, or null (`<rev>^{commit}` for "a commit or nothing"). */
  resolve(name: string): Promise<string | null>;
  /**
   * The object with its content, or null when `name` names none.
   * @throws {ObjectStoreError} OBJECT_TOO_LARGE above `maxBytes` (default
   * {@link MAX_OBJECT_BYTES}).
   */
  read(name: string, options?: { readonly maxBytes?: number }): Promise<GitObject | null>;
  /**
   * The entries of the one tree `name` names (a commit's root tree for `<commit>^{tree}`, a
   * directory for `<commit>:<dir>`), modes canonical; null when it names no tree.
   * @throws {ObjectStoreError} OBJECT_MALFORMED for a tree that does not parse.
   */
  readTree(name: string): Promise<TreeRecord[] | null>;
  /** The commit `rev` names (a tag is peeled), parsed; null when it names no commit. */
  readCommit(rev: string): Promise<CommitObject | null>;
  /**
   * Every blob, symlink and gitlink of the tree `rev` names (a commit's tree), path -> entry, in
   * `git ls-tree -r --full-tree` order; null when `rev` names no tree-ish.
   * @throws {ObjectStoreError} for a missing or malformed subtree, or a listing beyond the caps.
   */
  listTree(rev: string): Promise<Map<string, TreeEntry> | null>;
}

const STORES = new Map<string, BatchReader>();

/**
 * The object store of the repository whose git dir is `gitDir` (a bare repository or a `.git`
 * directory; not a work tree), one per git dir and process.
 */
export function objectStore(gitDir: string): ObjectStore {
  const key = path.resolve(gitDir);
  let store = STORES.get(key);
  if (!store) {
    store = new BatchReader(key);
    STORES.set(key, store);
  }
  return store;
}

/**
 * End every reader's git process (and wait until each has exited), each once its outstanding
 * requests are answered: for shutdown and tests. A store asked afterwards starts a new process.
 *
 * @example
 * ```ts
 * afterAll(closeObjectStores);
 * ```
 */
export async function closeObjectStores(): Promise<void> {
  await Promise.all([...STORES.values()].map((r) => r.close()));
}

/** The pids of the readers' running git processes (for tests). */
export function objectStorePids(): number[] {
  return [...STORES.values()].flatMap((r) => r.pid ?? []);
}

interface Request {
  readonly command: 'info' | 'contents';
  readonly name: string;
  readonly maxBytes: number;
  readonly resolve: (reply: GitObject | ObjectInfo | null) => void;
  readonly reject: (error: Error) => void;
  sent: number;
}

const HEADER = /^([0-9a-f]{40}(?:[0-9a-f]{24})?) ([a-z]+) (\d+)$/;

class BatchReader implements ObjectStore {
  private child: ReturnType<typeof startGit> | null = null;
  private pending: Request[] = [];
  private head: Buffer = Buffer.alloc(0);
  private body: { info: ObjectInfo; bytes: Buffer; filled: number } | null = null;
  private stderr = '';
  private idle: NodeJS.Timeout | undefined;
  /** Callers of {@link close} waiting for the outstanding requests to be answered. */
  private closing: (() => void)[] = [];
  /**
   * Root tree id -> its listing ({@link listTree}); a tree id names its content for ever, and a
   * ticket lists the same few trees again and again (reset, staging, every gate's checkout, the
   * merge).
   */
  private readonly listings = new LruCache<string, ReadonlyMap<string, TreeEntry>>(
    MAX_LISTED_ENTRIES,
    (listing) => listing.size,
  );

  constructor(readonly gitDir: string) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  info(name: string): Promise<ObjectInfo | null> {
    return this.request('info', name, 0);
  }

  async resolve(name: string): Promise<string | null> {
    return (await this.info(name))?.sha ?? null;
  }

  read(name: string, options: { readonly maxBytes?: number } = {}): Promise<GitObject | null> {
    return this.request(
      'contents',
      name,
      options.maxBytes ?? MAX_OBJECT_BYTES,
    ) as Promise<GitObject | null>;
  }

  async readTree(name: string): Promise<TreeRecord[] | null> {
    const tree = await this.read(name);
    if (tree?.type !== 'tree') return null;
    return malformedAsStoreError(() => parseTree(tree.content, tree.sha.length / 2));
  }

  async readCommit(rev: string): Promise<CommitObject | null> {
    const object = await this.read(`${rev}^{commit}`);
    if (object?.type !== 'commit') return null;
    return malformedAsStoreError(() => parseCommit(object.sha, object.content));
  }

  async listTree(rev: string): Promise<Map<string, TreeEntry> | null> {
    const root = await this.read(`${rev}^{tree}`);
    if (root?.type !== 'tree') return null;
    const known = this.listings.get(root.sha);
    if (known) return new Map(known);
    const out = new Map<string, TreeEntry>();
    await this.walkTree(root, '', 0, out);
    this.listings.set(root.sha, out);
    return new Map(out);
  }

  /** Depth-first, in tree order; the subtrees of one tree are requested together (pipelined). */
  private async walkTree(
    tree: GitObject,
    prefix: string,
    depth: number,
    out: Map<string, TreeEntry>,
  ): Promise<void> {
    if (depth > MAX_TREE_DEPTH) throw tooLarge(`tree ${prefix} nests deeper than the cap`);
    const records = malformedAsStoreError(() => parseTree(tree.content, tree.sha.length / 2));
    const subtrees = records.filter((r) => r.mode === TREE_MODE).map((r) => this.subtree(r.sha));
    // Unwaited reads still settle (and their rejections are handled) when one throws.
    for (const pending of subtrees) pending.catch(() => undefined);
    let next = 0;
    for (const record of records) {
      const full = `${prefix}${record.name}`;
      if (record.mode !== TREE_MODE) {
        out.set(full, { mode: record.mode, sha: record.sha });
        if (out.size > MAX_TREE_ENTRIES)
          throw tooLarge(`tree has over ${MAX_TREE_ENTRIES} entries`);
        continue;
      }
      await this.walkTree(await subtrees[next++]!, `${full}/`, depth + 1, out);
    }
  }

  private async subtree(sha: string): Promise<GitObject> {
    const object = await this.read(sha);
    if (object?.type !== 'tree')
      throw new ObjectStoreError('OBJECT_MISSING', `tree ${sha} is missing from ${this.gitDir}`);
    return object;
  }

  /**
   * End the process (EOF on stdin) and wait for it to exit: at once when no request is
   * outstanding, else as soon as the last one is answered (nothing is dropped).
   */
  close(): Promise<void> {
    clearTimeout(this.idle);
    if (this.pending.length > 0) return new Promise((resolve) => this.closing.push(resolve));
    const child = this.child;
    this.detach(undefined);
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('close', () => resolve());
      child.stdin.end();
    });
  }

  private request(
    command: Request['command'],
    name: string,
    maxBytes: number,
  ): Promise<GitObject | ObjectInfo | null> {
    // No object is named so, and a newline would smuggle in a second command.
    if (/[\n\0]/.test(name) || name === '') return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.send({ command, name, maxBytes, resolve, reject, sent: 0 });
    });
  }

  private send(request: Request): void {
    clearTimeout(this.idle);
    const child = this.child ?? this.spawn();
    request.sent += 1;
    this.pending.push(request);
    if (this.pending.length === 1) socket(child.stdout).ref();
    // The requests of one turn (a tree's blobs, a commit's subtrees) go out in one write, not
    // one system call each.
    if (!child.stdin.writableCorked) {
      child.stdin.cork();
      process.nextTick(() => child.stdin.uncork());
    }
    child.stdin.write(`${request.command} ${request.name}\n`);
  }

  private spawn(): ReturnType<typeof startGit> {
    const child = startGit(this.gitDir, ['cat-file', '--batch-command'], {
      gitDir: this.gitDir,
      env: ISOLATED_GIT_ENV,
    });
    this.child = child;
    this.stderr = '';
    child.unref();
    child.stdin.on('error', () => undefined); // a dead process is handled by 'close'
    child.stdout.on('data', (chunk: Buffer) => {
      if (this.child === child) this.onData(child, chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (this.child === child) this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4096);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (this.child === child) this.onDeath(error);
    });
    child.on('close', () => {
      if (this.child === child) this.onDeath(undefined);
    });
    socket(child.stdin).unref();
    socket(child.stderr).unref();
    return child;
  }

  /** Parse replies in order: a header line, then (for `contents`) size bytes and a newline. */
  private onData(child: ReturnType<typeof startGit>, chunk: Buffer): void {
    let at = 0;
    // A reply may end this process (a cap, a protocol error): the rest of the chunk is its.
    while (at < chunk.length && this.child === child) {
      if (!this.body) {
        const eol = chunk.indexOf(0x0a, at);
        if (eol === -1) {
          this.head = Buffer.concat([this.head, chunk.subarray(at)]);
          if (this.head.length > 4096) this.protocolError('overlong reply header');
          return;
        }
        const line = Buffer.concat([this.head, chunk.subarray(at, eol)]).toString('utf8');
        this.head = Buffer.alloc(0);
        at = eol + 1;
        this.onHeader(line);
        continue;
      }
      const body = this.body;
      const n = Math.min(body.bytes.length - body.filled, chunk.length - at);
      chunk.copy(body.bytes, body.filled, at, at + n);
      body.filled += n;
      at += n;
      if (body.filled === body.bytes.length) {
        this.body = null;
        if (body.bytes.at(-1) !== 0x0a) this.protocolError('reply without its newline');
        else this.answer((r) => r.resolve({ ...body.info, content: body.bytes.subarray(0, -1) }));
      }
    }
  }

  private onHeader(line: string): void {
    const request = this.pending[0];
    const match = HEADER.exec(line);
    if (!request) this.protocolError(`unexpected reply ${line}`);
    else if (!match) {
      const unknown = line === `${request.name} missing` || line === `${request.name} ambiguous`;
      if (unknown) this.answer((r) => r.resolve(null));
      else this.protocolError(`unexpected reply ${line}`);
    } else {
      const info = { sha: match[1]!, type: match[2]!, size: Number(match[3]) };
      if (request.command === 'info') this.answer((r) => r.resolve(info));
      else if (info.size <= request.maxBytes)
        this.body = { info, bytes: Buffer.allocUnsafe(info.size + 1), filled: 0 };
      else {
        const why = `${request.name}: ${info.size} bytes, over the cap of ${request.maxBytes}`;
        this.answer((r) => r.reject(tooLarge(why)));
        // Nothing of it is read: the process goes, the requests behind it go to a new one.
        this.restart();
      }
    }
  }

  private answer(settle: (request: Request) => void): void {
    const request = this.pending.shift()!;
    settle(request);
    if (this.pending.length > 0 || !this.child) return;
    socket(this.child.stdout).unref();
    if (this.closing.length > 0) {
      const waiting = this.closing.splice(0);
      void this.close().then(() => {
        for (const resolve of waiting) resolve();
      });
      return;
    }
    this.idle = setTimeout(() => void this.close(), IDLE_MS);
    this.idle.unref();
  }

  private protocolError(why: string): void {
    this.failAll(new GitError(['cat-file', '--batch-command'], this.gitDir, undefined, why));
  }

  /** The process died: its unanswered requests are sent once more to a new one, else fail. */
  private onDeath(error: NodeJS.ErrnoException | undefined): void {
    if (error?.code === 'ENOENT') {
      this.failAll(new GitMissingError({ cause: error }));
      return;
    }
    const lost = this.pending;
    const child = this.child;
    const why = this.stderr || (child?.signalCode ? `killed by ${child.signalCode}` : 'exited');
    this.detach(undefined);
    const failure = new GitError(['cat-file', '--batch-command'], this.gitDir, undefined, why, {
      cause: error,
    });
    for (const request of lost) {
      if (request.sent >= 2) request.reject(failure);
      else this.send(request);
    }
    if (this.pending.length === 0) this.releaseClosing();
  }

  private restart(): void {
    const child = this.child;
    const lost = this.pending;
    this.detach(undefined);
    child?.kill('SIGKILL');
    for (const request of lost) this.send(request);
  }

  private failAll(error: Error): void {
    const child = this.child;
    this.detach(error);
    child?.kill('SIGKILL');
  }

  /** Forget the process and the parse state; reject unanswered requests with `error`, if given. */
  private detach(error: Error | undefined): void {
    const lost = this.pending;
    this.child = null;
    this.pending = [];
    this.head = Buffer.alloc(0);
    this.body = null;
    if (!error) return;
    for (const request of lost) request.reject(error);
    this.releaseClosing();
  }

  /** Nothing is outstanding any more (the process is gone): waiting closers are done. */
  private releaseClosing(): void {
    for (const resolve of this.closing.splice(0)) resolve();
  }
}

/** A child's pipe is a `net.Socket` (typed as a plain stream): it can be (un)ref'd. */
function socket(stream: Readable | Writable): Socket {
  return stream as Socket;
}

function tooLarge(message: string): ObjectStoreError {
  return new ObjectStoreError('OBJECT_TOO_LARGE', message);
}

function malformedAsStoreError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof MalformedObjectError)
      throw new ObjectStoreError('OBJECT_MALFORMED', error.message, { cause: error });
    throw error;
  }
}
