import { chmod, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChangeStatus, STATUS } from '../../src/workspace/changes.js';
import { runGit, splitNul } from '../../src/workspace/git.js';
import { closeObjectStores, objectStore } from '../../src/workspace/object-store.js';
import { diffListings, diffTrees, type TreeChange } from '../../src/workspace/tree-diff.js';
import { commit, git, put, sampleSetup } from './helpers.js';

afterEach(closeObjectStores);

/** What git itself says: `diff-tree -r -z --raw --no-renames`. */
async function gitDiffTree(repo: string, from: string, to: string): Promise<TreeChange[]> {
  const args = ['diff-tree', '-r', '-z', '--raw', '--no-renames', from, to];
  const fields = splitNul((await runGit(repo, args)).stdout);
  const out: TreeChange[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const [, mode, , sha, status] = fields[i]!.slice(1).split(' ');
    const s: ChangeStatus = STATUS[status!.charAt(0)] ?? 'modified';
    out.push({ path: fields[i + 1]!, status: s, mode: mode!, sha: sha! });
  }
  return out;
}

describe('diffTrees', () => {
  it('says what diff-tree says: adds, deletes, modes, typechanges, file <-> dir', async () => {
    const { repo } = await sampleSetup();
    await put(repo.path, 'keep/same.txt', 'same\n');
    await put(repo.path, 'mod.txt', 'one\n');
    await put(repo.path, 'exec.sh', 'echo\n');
    await put(repo.path, 'to-link', 'file\n');
    await put(repo.path, 'file-then-dir', 'file\n');
    await put(repo.path, 'dir-then-file/a/b.txt', 'deep\n');
    await put(repo.path, 'gone/x.txt', 'x\n');
    const before = await commit(repo.path, 'before');
    await put(repo.path, 'mod.txt', 'two\n');
    await chmod(path.join(repo.path, 'exec.sh'), 0o755);
    await rm(path.join(repo.path, 'to-link'));
    await symlink('mod.txt', path.join(repo.path, 'to-link'));
    await rm(path.join(repo.path, 'file-then-dir'));
    await put(repo.path, 'file-then-dir/inner.txt', 'now a dir\n');
    await rm(path.join(repo.path, 'dir-then-file'), { recursive: true });
    await put(repo.path, 'dir-then-file', 'now a file\n');
    await rm(path.join(repo.path, 'gone'), { recursive: true });
    await put(repo.path, 'new/deep/er.txt', 'new\n');
    await put(repo.path, 'a-b', 'sorts between a and a/\n');
    await git(repo.path, ['add', '--all']);
    await git(repo.path, ['update-index', '--add', '--cacheinfo', `160000,${before},sub`]);
    await git(repo.path, ['commit', '-q', '-m', 'after']);
    const after = await git(repo.path, ['rev-parse', 'HEAD']);
    const store = objectStore(path.join(repo.path, '.git'));
    const expected = await gitDiffTree(repo.path, before, after);
    expect(expected.length).toBeGreaterThan(8);
    expect(await diffTrees(store, before, after)).toEqual(expected);
    expect(await diffTrees(store, after, before)).toEqual(
      await gitDiffTree(repo.path, after, before),
    );
    expect(await diffTrees(store, `${after}^`, after)).toEqual(expected);
    expect(await diffTrees(store, after, after)).toEqual([]);
    const listings = await Promise.all([store.listTree(before), store.listTree(after)]);
    expect(diffListings(listings[0]!, listings[1]!)).toEqual(expected);
  });

  it('refuses a revision that names no tree', async () => {
    const { repo } = await sampleSetup();
    const store = objectStore(path.join(repo.path, '.git'));
    await expect(diffTrees(store, 'HEAD^', 'HEAD')).rejects.toMatchObject({
      code: 'OBJECT_MISSING',
    });
  });
});
