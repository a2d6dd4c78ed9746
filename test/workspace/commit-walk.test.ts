import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { walkIsAncestor } from '../../src/workspace/commit-walk.js';
import { runGit } from '../../src/workspace/git.js';
import { closeObjectStores, objectStore } from '../../src/workspace/object-store.js';
import { commit, git, put, sampleSetup } from './helpers.js';

afterEach(closeObjectStores);

async function gitIsAncestor(repo: string, a: string, d: string): Promise<boolean> {
  const r = await runGit(repo, ['merge-base', '--is-ancestor', a, d], { okExitCodes: [0, 1] });
  return r.exitCode === 0;
}

describe('walkIsAncestor', () => {
  it('agrees with git on every pair of a small history with branches and merges', async () => {
    const { repo } = await sampleSetup();
    const shas = [await git(repo.path, ['rev-parse', 'HEAD'])];
    await git(repo.path, ['checkout', '-q', '-b', 'side']);
    for (const i of [1, 2]) {
      await put(repo.path, `side${i}.txt`, `${i}\n`);
      shas.push(await commit(repo.path, `side ${i}`));
    }
    await git(repo.path, ['checkout', '-q', 'main']);
    for (const i of [1, 2]) {
      await put(repo.path, `main${i}.txt`, `${i}\n`);
      shas.push(await commit(repo.path, `main ${i}`));
    }
    await git(repo.path, ['merge', '-q', '--no-edit', 'side']);
    shas.push(await git(repo.path, ['rev-parse', 'HEAD']));
    await put(repo.path, 'after.txt', 'after\n');
    shas.push(await commit(repo.path, 'after merge'));
    const store = objectStore(path.join(repo.path, '.git'));
    for (const a of shas)
      for (const d of shas)
        expect([a, d, await walkIsAncestor(store, a, d)]).toEqual([
          a,
          d,
          await gitIsAncestor(repo.path, a, d),
        ]);
  });

  it('gives the question back to git when the answer is further than the budget', async () => {
    const { repo } = await sampleSetup();
    const root = await git(repo.path, ['rev-parse', 'HEAD']);
    await git(repo.path, ['checkout', '-q', '-b', 'side']);
    await put(repo.path, 'side.txt', 'side\n');
    const side = await commit(repo.path, 'side');
    await git(repo.path, ['checkout', '-q', 'main']);
    for (let i = 0; i < 6; i++) {
      await put(repo.path, 'n.txt', `${i}\n`);
      await commit(repo.path, `main ${i}`);
    }
    const tip = await git(repo.path, ['rev-parse', 'HEAD']);
    const store = objectStore(path.join(repo.path, '.git'));
    expect(await walkIsAncestor(store, root, tip, 3)).toBeNull();
    expect(await walkIsAncestor(store, side, tip, 3)).toBeNull();
    expect(await walkIsAncestor(store, root, tip, 10)).toBe(true);
    expect(await walkIsAncestor(store, side, tip, 10)).toBe(false);
    expect(await walkIsAncestor(store, tip, root, 3)).toBe(false);
  });
});
