/**
 * What differs between two trees, as `git diff-tree -r --raw --no-renames` reports it, computed
 * in-process: from two listings already in hand ({@link diffListings}), or from the object store
 * ({@link diffTrees}), which like git reads only the subtrees whose ids differ.
 */
import type { ChangeStatus } from './changes.js';
import { TREE_MODE, type TreeEntry, type TreeRecord } from './git-objects.js';
import { type ObjectStore, ObjectStoreError } from './object-store.js';

/** One path that differs between two commits. */
export interface TreeChange {
  readonly path: string;
  readonly status: ChangeStatus;
  /** Mode in the newer commit (`000000` when deleted). */
  readonly mode: string;
  /** Blob id in the newer commit (zeros when deleted). */
  readonly sha: string;
}

const MAX_DEPTH = 1_000;

const KIND = (mode: string) =>
  mode === '120000' ? 'link' : mode === '160000' ? 'gitlink' : 'file';

/**
 * The changes from listing `before` to listing `after` (path -> entry, trees flattened), in
 * git's byte order of paths.
 *
 * @example
 * ```ts
 * const changes = diffListings(parentTree, nextTree); // [{ path, status: 'added', mode, sha }]
 * ```
 */
export function diffListings(
  before: ReadonlyMap<string, TreeEntry>,
  after: ReadonlyMap<string, TreeEntry>,
): TreeChange[] {
  const changes: TreeChange[] = [];
  for (const [p, old] of before) if (!after.has(p)) changes.push(deleted(p, old.sha));
  for (const [p, now] of after) {
    const old = before.get(p);
    if (old && old.mode === now.mode && old.sha === now.sha) continue;
    changes.push(changed(p, old, now));
  }
  return byPath(changes);
}

/**
 * The changes from tree-ish `from` to tree-ish `to` (commits, `<sha>^`, trees), read from the
 * object store; subtrees with the same id on both sides are skipped unread.
 *
 * @throws {ObjectStoreError} OBJECT_MISSING when either names no tree-ish or a subtree is missing.
 * @example
 * ```ts
 * const changes = await diffTrees(objectStore(gitDir), `${redCommit}^`, redCommit);
 * ```
 */
export async function diffTrees(
  store: ObjectStore,
  from: string,
  to: string,
): Promise<TreeChange[]> {
  const [a, b] = await Promise.all([store.info(`${from}^{tree}`), store.info(`${to}^{tree}`)]);
  if (a?.type !== 'tree' || b?.type !== 'tree')
    throw new ObjectStoreError('OBJECT_MISSING', `cannot diff ${from} and ${to}: no such tree`);
  const changes: TreeChange[] = [];
  await walk(store, a.sha, b.sha, '', 0, changes);
  return byPath(changes);
}

async function walk(
  store: ObjectStore,
  from: string,
  to: string,
  prefix: string,
  depth: number,
  out: TreeChange[],
): Promise<void> {
  if (from === to) return;
  if (depth > MAX_DEPTH)
    throw new ObjectStoreError('OBJECT_TOO_LARGE', `tree ${prefix} nests deeper than the cap`);
  const [a, b] = await Promise.all([tree(store, from), tree(store, to)]);
  const before = new Map(a.map((r) => [r.name, r]));
  const after = new Map(b.map((r) => [r.name, r]));
  const nested: Promise<void>[] = [];
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const old = before.get(name);
    const now = after.get(name);
    if (old && now && old.mode === now.mode && old.sha === now.sha) continue;
    const p = `${prefix}${name}`;
    const oldTree = old?.mode === TREE_MODE;
    const newTree = now?.mode === TREE_MODE;
    if (oldTree && newTree) {
      nested.push(walk(store, old.sha, now.sha, `${p}/`, depth + 1, out));
      continue;
    }
    if (old && oldTree)
      nested.push(everything(store, old.sha, p, (q, e) => deleted(q, e.sha), out));
    if (now && newTree)
      nested.push(everything(store, now.sha, p, (q, e) => changed(q, null, e), out));
    if (old && !oldTree && (!now || newTree)) out.push(deleted(p, old.sha));
    if (now && !newTree) out.push(changed(p, old && !oldTree ? old : null, now));
  }
  await Promise.all(nested);
}

/** Every leaf of the subtree `sha` at `p`, as a change. */
async function everything(
  store: ObjectStore,
  sha: string,
  p: string,
  change: (path: string, entry: TreeEntry) => TreeChange,
  out: TreeChange[],
): Promise<void> {
  const listed = await store.listTree(sha);
  if (!listed) throw missingTree(store, sha);
  for (const [q, entry] of listed) out.push(change(`${p}/${q}`, entry));
}

async function tree(store: ObjectStore, sha: string): Promise<TreeRecord[]> {
  const records = await store.readTree(sha);
  if (!records) throw missingTree(store, sha);
  return records;
}

function missingTree(store: ObjectStore, sha: string): ObjectStoreError {
  return new ObjectStoreError('OBJECT_MISSING', `tree ${sha} is missing from ${store.gitDir}`);
}

function deleted(p: string, oldSha: string): TreeChange {
  return { path: p, status: 'deleted', mode: '000000', sha: '0'.repeat(oldSha.length) };
}

function changed(p: string, old: TreeEntry | null | undefined, now: TreeEntry): TreeChange {
  const status = !old ? 'added' : KIND(old.mode) === KIND(now.mode) ? 'modified' : 'typechange';
  return { path: p, status, mode: now.mode, sha: now.sha };
}

function byPath(changes: TreeChange[]): TreeChange[] {
  return changes.sort((x, y) => Buffer.compare(Buffer.from(x.path), Buffer.from(y.path)));
}
