import { chmod, link, lstat, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeObjectStores } from '../../src/workspace/object-store.js';
import { commitAll, stageCommit } from '../../src/workspace/stage-commit.js';
import { branchTip, createWorktree, resetWorkspace } from '../../src/workspace/worktree.js';
import { git, put, read, sampleSetup, sampleWorkspace, tempDir } from './helpers.js';

afterAll(closeObjectStores);

async function workspace() {
  const { repo, wt } = await sampleWorkspace('R-1');
  await put(wt.path, 'src/kept.js', 'export const kept = 1;\n');
  await put(wt.path, '.gitignore', 'build/\n');
  const tip = (await commitAll(wt, 'R-1: work'))!;
  return { repo, wt, tip };
}

/** The clone as git sees it: branch, index and files all at `tip`, nothing else. */
async function expectCleanAt(dir: string, tip: string): Promise<void> {
  expect(await git(dir, ['rev-parse', 'HEAD'])).toBe(tip);
  expect(await git(dir, ['diff-index', '--cached', '--name-only', tip])).toBe('');
  expect(await git(dir, ['status', '--porcelain', '--untracked-files=all'])).toBe('');
  expect(await git(dir, ['ls-files'])).toBe(await git(dir, ['ls-tree', '-r', '--name-only', tip]));
}

describe('resetWorkspace', () => {
  it('leaves a workspace that already holds the tip untouched, and its index true', async () => {
    const { wt, tip } = await workspace();
    await put(wt.path, '.loopwright/report.json', '{}\n');
    const before = await lstat(path.join(wt.path, 'src/kept.js'));
    await resetWorkspace(wt, tip);
    const after = await lstat(path.join(wt.path, 'src/kept.js'));
    // Not rewritten (git's reset from no index would have re-created every file).
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    await expectCleanAt(wt.path, tip);
    expect(await read(wt.path, '.loopwright/report.json')).toBe('{}\n');
  });

  it("removes an agent's leftovers: untracked files, empty dirs, edits, deletions", async () => {
    const { wt, tip } = await workspace();
    await put(wt.path, 'stray/notes.txt', 'leftover\n');
    await mkdir(path.join(wt.path, 'empty-dir'));
    await put(wt.path, 'src/kept.js', 'export const kept = 2;\n');
    await rm(path.join(wt.path, 'README.md'));
    await resetWorkspace(wt, tip);
    await expectCleanAt(wt.path, tip);
    expect(await read(wt.path, 'src/kept.js')).toBe('export const kept = 1;\n');
    expect(await lstat(path.join(wt.path, 'stray')).catch(() => null)).toBeNull();
    expect(await lstat(path.join(wt.path, 'empty-dir')).catch(() => null)).toBeNull();
  });

  it('sees a same-size rewrite with its times restored after the files were hashed', async () => {
    const { wt, tip } = await workspace();
    const file = path.join(wt.path, 'src/kept.js');
    // Older than the settling window, so the first reset remembers its hash (known-blobs.ts).
    const old = new Date(Date.now() - 60_000);
    await utimes(file, old, old);
    await new Promise((resolve) => setTimeout(resolve, 80));
    await resetWorkspace(wt, tip); // hashes every file: all are the tip's
    const before = await lstat(file);
    await writeFile(file, 'export const kept = 9;\n'); // same size, other bytes, same inode
    await utimes(file, before.atime, before.mtime);
    expect((await lstat(file)).ino).toBe(before.ino);
    // Staged as the agent's work: the remembered hash must not stand in for the new bytes.
    const staged = await stageCommit(wt, 'R-1: sneaky', undefined, tip);
    expect(staged.commit).not.toBeNull();
    expect(staged.changes?.map((c) => c.path)).toEqual(['src/kept.js']);
    await resetWorkspace(wt, tip);
    expect(await read(wt.path, 'src/kept.js')).toBe('export const kept = 1;\n');
    await expectCleanAt(wt.path, tip);
  });

  it('undoes same-bytes tricks: a hard link out, a mode change, a symlink swap', async () => {
    const { wt, tip } = await workspace();
    const outside = path.join(await tempDir(), 'secret');
    await writeFile(outside, 'export const kept = 1;\n');
    await rm(path.join(wt.path, 'src/kept.js'));
    await link(outside, path.join(wt.path, 'src/kept.js'));
    await chmod(path.join(wt.path, 'README.md'), 0o600);
    const readme = await read(wt.path, 'README.md');
    await resetWorkspace(wt, tip);
    await expectCleanAt(wt.path, tip);
    const kept = await lstat(path.join(wt.path, 'src/kept.js'));
    expect(kept.nlink).toBe(1);
    expect((await lstat(path.join(wt.path, 'README.md'))).mode & 0o777).toBe(
      0o666 & ~process.umask(),
    );

    // A tracked file replaced by a symlink to a file with its bytes is not the file.
    await rm(path.join(wt.path, 'README.md'));
    await writeFile(outside, readme);
    await symlink(outside, path.join(wt.path, 'README.md'));
    await resetWorkspace(wt, tip);
    await expectCleanAt(wt.path, tip);
    expect((await lstat(path.join(wt.path, 'README.md'))).isFile()).toBe(true);
  });

  it('rewrites the clone index or branch an agent moved; ignored files stay', async () => {
    const { wt, tip } = await workspace();
    await put(wt.path, 'staged.txt', 'staged by the agent\n');
    await git(wt.path, ['add', 'staged.txt']);
    await rm(path.join(wt.path, 'staged.txt'));
    await resetWorkspace(wt, tip);
    await expectCleanAt(wt.path, tip);

    await put(wt.path, 'own.txt', 'x\n');
    await git(wt.path, ['add', 'own.txt']);
    await git(wt.path, ['commit', '-qm', 'agent commit in the clone']);
    await rm(path.join(wt.path, 'own.txt'));
    expect(await git(wt.path, ['rev-parse', 'HEAD'])).not.toBe(tip);
    await resetWorkspace(wt, tip);
    await expectCleanAt(wt.path, tip);
    expect(await branchTip(wt)).toBe(tip);

    // The handover folder stays only as a folder: a link by its name goes, as clean removes it.
    await rm(path.join(wt.path, '.loopwright'), { recursive: true, force: true });
    await symlink('src', path.join(wt.path, '.loopwright'));
    await resetWorkspace(wt, tip);
    expect(await lstat(path.join(wt.path, '.loopwright')).catch(() => null)).toBeNull();
    await expectCleanAt(wt.path, tip);

    await put(wt.path, 'build/out.js', 'ignored\n');
    await resetWorkspace(wt, tip);
    expect(await read(wt.path, 'build/out.js')).toBe('ignored\n');
    expect(await git(wt.path, ['status', '--porcelain'])).toBe('');
  });
});

describe('resetWorkspace with files it cannot read', () => {
  it('leaves an unreadable file or folder to git, which restores the tip', async () => {
    const { wt, tip } = await workspace();
    await chmod(path.join(wt.path, 'src/kept.js'), 0o000);
    await mkdir(path.join(wt.path, 'locked'));
    await chmod(path.join(wt.path, 'locked'), 0o000);
    await resetWorkspace(wt, tip);
    await expectCleanAt(wt.path, tip);
    expect(await read(wt.path, 'src/kept.js')).toBe('export const kept = 1;\n');
  });
});

describe('a fresh clone', () => {
  it("holds the tip's files, links and modes, with its index and branch at the tip", async () => {
    const { repo, root } = await sampleSetup();
    await put(repo.path, 'bin/run.sh', '#!/bin/sh\necho run\n');
    await chmod(path.join(repo.path, 'bin/run.sh'), 0o755);
    await symlink('bin/run.sh', path.join(repo.path, 'run'));
    await git(repo.path, ['add', '--all']);
    await git(repo.path, ['commit', '-qm', 'tools']);
    const tip = await git(repo.path, ['rev-parse', 'main']);
    const wt = await createWorktree({
      repoPath: repo.path,
      baseBranch: 'main',
      ticketKey: 'F-1',
      root,
    });
    await expectCleanAt(wt.path, tip);
    const umask = process.umask();
    expect((await lstat(path.join(wt.path, 'bin/run.sh'))).mode & 0o777).toBe(0o777 & ~umask);
    expect((await lstat(path.join(wt.path, 'README.md'))).mode & 0o777).toBe(0o666 & ~umask);
    expect((await lstat(path.join(wt.path, 'run'))).isSymbolicLink()).toBe(true);
    expect(await git(wt.path, ['diff', '--quiet'])).toBe('');
  });
});
