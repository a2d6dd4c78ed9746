import { chmod, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  changedRedTests,
  commitScopeViolations,
  missingTestFiles,
  redTestFiles,
  treeChanges,
} from '../../src/workspace/commit-gates.js';
import { closeObjectStores } from '../../src/workspace/object-store.js';
import { commit, git, put, sampleSetup } from './helpers.js';

afterEach(closeObjectStores);

const whys = (violations: readonly { path: string; why: string }[]) =>
  violations.map((v) => `${v.why}:${v.path}`);

describe('commit gates from the object store', () => {
  it('names RED tests BUILD deleted, edited, made executable or replaced by a dir', async () => {
    const { repo } = await sampleSetup();
    const gitDir = path.join(repo.path, '.git');
    for (const name of ['kept', 'gone', 'edited', 'exec', 'dir'])
      await put(repo.path, `test/${name}.test.js`, `${name}\n`);
    const red = await commit(repo.path, 'red');
    expect((await redTestFiles(gitDir, red)).sort()).toEqual(
      ['dir', 'edited', 'exec', 'gone', 'kept'].map((n) => `test/${n}.test.js`),
    );
    await rm(path.join(repo.path, 'test/gone.test.js'));
    await put(repo.path, 'test/edited.test.js', 'weakened\n');
    await chmod(path.join(repo.path, 'test/exec.test.js'), 0o755);
    await rm(path.join(repo.path, 'test/dir.test.js'));
    await put(repo.path, 'test/dir.test.js/inner.js', 'now a directory\n');
    const build = await commit(repo.path, 'build');
    expect(whys(await changedRedTests(gitDir, red, build)).sort()).toEqual([
      'red-test-deleted:test/gone.test.js',
      'red-test-modified:test/dir.test.js',
      'red-test-modified:test/edited.test.js',
      'red-test-modified:test/exec.test.js',
    ]);
  });

  it('finds planned tests only as regular files, never outside the tree', async () => {
    const { repo } = await sampleSetup();
    const gitDir = path.join(repo.path, '.git');
    await put(repo.path, 'test/a.test.js', 'a\n');
    await put(repo.path, 'top.test.js', 'top\n');
    await put(repo.path, 'test/dir/x.js', 'x\n');
    await symlink('a.test.js', path.join(repo.path, 'test/link.test.js'));
    const head = await commit(repo.path, 'planned');
    const planned = [
      'test/a.test.js',
      'top.test.js',
      'test/dir',
      'test/link.test.js',
      'test/none.test.js',
      '../outside.test.js',
      'test//a.test.js',
      'test/*.test.js',
    ];
    expect(whys(await missingTestFiles(gitDir, head, planned))).toEqual(
      planned.slice(2).map((p) => `missing-planned-test:${p}`),
    );
  });

  it('reads symlink targets from their blobs for scope', async () => {
    const { repo } = await sampleSetup();
    const gitDir = path.join(repo.path, '.git');
    const base = await git(repo.path, ['rev-parse', 'HEAD']);
    await put(repo.path, 'src/ok.js', 'ok\n');
    await symlink('ok.js', path.join(repo.path, 'src/in.js'));
    await symlink('../../etc/passwd', path.join(repo.path, 'src/out.js'));
    await symlink('../README.md', path.join(repo.path, 'src/scope.js'));
    const head = await commit(repo.path, 'links');
    const changes = await treeChanges(gitDir, base, head);
    expect(whys(await commitScopeViolations(gitDir, changes, ['src/**']))).toEqual([
      'symlink-target-outside:src/out.js',
      'symlink-target-out-of-scope:src/scope.js',
    ]);
  });
});
