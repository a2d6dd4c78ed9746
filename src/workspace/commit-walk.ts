/**
 * Ancestry questions answered in-process by walking parents through the object store, when the
 * answer is near: a ticket branch a few commits on top of its base, a tip merged a few commits
 * ago. A walk that would be longer says so (null) and the caller asks git, so the answer is
 * always git's.
 */
import type { ObjectStore } from './object-store.js';

/** Commits read from each end before giving the question back to git. */
export const WALK_BUDGET = 64;

/**
 * Whether `ancestor` is reachable from `descendant` (`git merge-base --is-ancestor`), both shas:
 * true when a walk down from `descendant` meets it, false when that walk ends at the roots
 * without meeting it or a walk down from `ancestor` meets `descendant` (history has no cycles,
 * so a proper descendant is never an ancestor); null when neither walk decides within `budget`
 * commits.
 *
 * @example
 * ```ts
 * const merged = (await walkIsAncestor(store, tip, baseTip)) ?? (await askGit(tip, baseTip));
 * ```
 */
export async function walkIsAncestor(
  store: ObjectStore,
  ancestor: string,
  descendant: string,
  budget = WALK_BUDGET,
): Promise<boolean | null> {
  if (ancestor === descendant) return true;
  const down = await walk(store, descendant, ancestor, budget);
  if (down !== 'over') return down === 'met';
  return (await walk(store, ancestor, descendant, budget)) === 'met' ? false : null;
}

/** Breadth-first over all parents from `start`, one pipelined round of reads per generation. */
async function walk(
  store: ObjectStore,
  start: string,
  target: string,
  budget: number,
): Promise<'met' | 'exhausted' | 'over'> {
  const seen = new Set([start]);
  let generation = [start];
  while (generation.length > 0) {
    if (seen.size > budget) return 'over';
    const commits = await Promise.all(generation.map((sha) => store.readCommit(sha)));
    const next: string[] = [];
    for (const commit of commits) {
      if (!commit) return 'over'; // a missing or shallow parent: git knows what to make of it
      for (const parent of commit.parents) {
        if (parent === target) return 'met';
        if (!seen.has(parent)) {
          seen.add(parent);
          next.push(parent);
        }
      }
    }
    generation = next;
  }
  return 'exhausted';
}
