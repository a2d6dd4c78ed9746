import { chmod, lstat, readFile, readdir, readlink, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  gitRefusesPath,
  writeCommit,
  writeObject,
  writeTree,
} from '../../src/workspace/object-writer.js';
import { git, put, sampleSetup } from './helpers.js';

describe('object writer', () => {
  it('writes the blobs, trees and commit git would write; fsck finds them sound', async () => {
    const { repo } = await sampleSetup();
    const dir = repo.path;
    await put(dir, 'src/deep/a b.txt', 'hello\n');
    await put(dir, 'src-x', 'sorted after src/\n');
    await put(dir, 'run.sh', '#!/bin/sh\n');
    await chmod(path.join(dir, 'run.sh'), 0o755);
    await symlink('src/deep/a b.txt', path.join(dir, 'link'));
    await git(dir, ['add', '--all']);
    const gitTree = await git(dir, ['write-tree']);
    const listed = await git(dir, ['ls-files', '-s', '-z']);
    const objectsDir = path.join(dir, '.git', 'objects');
    const flat = new Map<string, { mode: string; sha: string }>();
    for (const line of listed.split('\0').filter(Boolean)) {
      const [meta = '', file = ''] = line.split('\t');
      const [mode = '', sha = ''] = meta.split(' ');
      const full = path.join(dir, file);
      const bytes = mode === '120000' ? Buffer.from(await readlink(full)) : await readFile(full);
      expect(await writeObject(objectsDir, 'blob', bytes, 'sha1')).toBe(sha);
      flat.set(file, { mode, sha });
    }
    expect(await writeTree(objectsDir, flat, 'sha1')).toBe(gitTree);

    const when = new Date('2026-01-02T03:04:05Z');
    const head = await git(dir, ['rev-parse', 'HEAD']);
    const message = 'subject\n\nLoopwright-Run: r1\n';
    const ours = await writeCommit(
      objectsDir,
      { tree: gitTree, parents: [head], message, when },
      'sha1',
    );
    const theirs = await git(dir, ['commit-tree', gitTree, '-p', head, '-F', '-'], {
      input: message,
      env: {
        GIT_AUTHOR_DATE: '@1767323045 +0000',
        GIT_COMMITTER_DATE: '@1767323045 +0000',
        TZ: 'UTC',
      },
    });
    if (when.getTimezoneOffset() === 0) expect(ours).toBe(theirs);
    expect(await git(dir, ['cat-file', '-t', ours])).toBe('commit');
    expect(
      await git(dir, [
        'log',
        '-1',
        '--format=%an <%ae>|%P|%s|%(trailers:key=Loopwright-Run,valueonly)',
        ours,
      ]).then((out) => out.trim()),
    ).toBe(`loopwright <loopwright@localhost>|${head}|subject|r1`);
    await git(dir, ['fsck', '--strict', '--no-dangling']);
  });

  it('stores read-only files and never rewrites an object that is already there', async () => {
    const { repo } = await sampleSetup();
    const objectsDir = path.join(repo.path, '.git', 'objects');
    const sha = await writeObject(objectsDir, 'blob', Buffer.from('once\n'), 'sha1');
    const file = path.join(objectsDir, sha.slice(0, 2), sha.slice(2));
    const first = await stat(file);
    expect(first.mode & 0o777).toBe(0o444 & ~process.umask());
    expect(await writeObject(objectsDir, 'blob', Buffer.from('once\n'), 'sha1')).toBe(sha);
    const again = await lstat(file);
    expect([again.ino, again.mtimeMs]).toEqual([first.ino, first.mtimeMs]);
    expect(await git(repo.path, ['cat-file', 'blob', sha])).toBe('once');
    const leftovers = await readdir(path.dirname(file));
    expect(leftovers.filter((f) => f.startsWith('tmp_'))).toEqual([]);
  });

  it('refuses paths git refuses, before writing any tree', async () => {
    for (const bad of ['.git/config', 'a/.GIT/x', 'a/../b', 'a//b', 'x/.git. /y', 'git~1/hooks'])
      expect(gitRefusesPath(bad, '100644'), bad).toBe(true);
    expect(gitRefusesPath('.gitmodules', '120000')).toBe(true);
    expect(gitRefusesPath('.gitmodules', '100644')).toBe(false);
    expect(gitRefusesPath('src/.gitignore', '100644')).toBe(false);
    const { repo } = await sampleSetup();
    const objectsDir = path.join(repo.path, '.git', 'objects');
    const blob = await writeObject(objectsDir, 'blob', Buffer.from('x'), 'sha1');
    await expect(
      writeTree(
        objectsDir,
        new Map([['.git/hooks/pre-commit', { mode: '100755', sha: blob }]]),
        'sha1',
      ),
    ).rejects.toThrow(/refuses/);
  });
});
