import {
  chmod,
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { chmodSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { processStartTime } from '../../src/agents/process-identity.js';
import { BadInputError } from '../../src/errors.js';
import { runGit, splitNul } from '../../src/workspace/git.js';
import {
  drainScratchPool,
  ScratchCheckoutError,
  sweepScratchCheckouts,
  withScratchCheckout,
} from '../../src/workspace/scratch-checkout.js';
import { commit, git, put, sampleSetup, tempDir } from './helpers.js';

/** Every file under `dir` (relative, sorted), directories left out, symlinks not followed. */
async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, p)));
    else out.push(p);
  }
  return out.sort();
}

async function trackedFiles(repo: string, rev: string): Promise<string[]> {
  const { stdout } = await runGit(repo, ['ls-tree', '-r', '-z', '--name-only', rev]);
  return splitNul(stdout).sort();
}

async function fileExists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

describe('withScratchCheckout', () => {
  it('writes exactly the committed tree: bytes, modes, symlinks, no untracked files', async () => {
    const { repo, tmp } = await sampleSetup();
    const marker = path.join(tmp, 'filter-ran');
    await put(repo.path, 'bin/run.sh', '#!/bin/sh\necho hi\n');
    await chmod(path.join(repo.path, 'bin/run.sh'), 0o755);
    await put(repo.path, 'docs/a.txt', 'line one\nline two\n');
    await put(repo.path, 'data.bin', '\u0000\u0001binary\r\n');
    await put(repo.path, '.gitattributes', '* export-ignore\n*.txt filter=evil text eol=crlf\n');
    await symlink('docs/a.txt', path.join(repo.path, 'link'));
    await symlink('/etc/passwd', path.join(repo.path, 'abs-link'));
    const head = await commit(repo.path, 'exactness fixture');
    // Agent-writable config and files that are not in the commit.
    await git(repo.path, ['config', 'filter.evil.smudge', `touch ${marker}; cat`]);
    await git(repo.path, ['config', 'filter.evil.required', 'true']);
    await put(repo.path, 'untracked.js', 'module.exports = 1;\n');
    await put(repo.path, '.loopwright/hidden.js', 'cheat\n');
    await put(repo.path, 'docs/a.txt', 'changed in the working tree\n');

    const seen = await withScratchCheckout(
      repo.path,
      head,
      async (dir) => {
        expect(await listFiles(dir)).toEqual(await trackedFiles(repo.path, head));
        expect(await readFile(path.join(dir, 'docs/a.txt'), 'utf8')).toBe('line one\nline two\n');
        expect(await readFile(path.join(dir, 'data.bin'), 'utf8')).toBe('\u0000\u0001binary\r\n');
        expect((await stat(path.join(dir, 'bin/run.sh'))).mode & 0o777).toBe(0o755);
        expect((await stat(path.join(dir, 'docs/a.txt'))).mode & 0o111).toBe(0);
        expect((await lstat(path.join(dir, 'link'))).isSymbolicLink()).toBe(true);
        expect(await readlink(path.join(dir, 'link'))).toBe('docs/a.txt');
        expect(await readlink(path.join(dir, 'abs-link'))).toBe('/etc/passwd');
        expect(await fileExists(path.join(dir, '.git'))).toBe(false);
        return dir;
      },
      { reuse: false },
    );
    expect(await fileExists(marker)).toBe(false);
    expect(await fileExists(seen)).toBe(false);
  });

  it('restores overlay paths from another commit, dropping files it lacks there', async () => {
    const { repo } = await sampleSetup();
    await put(repo.path, 'test/a.test.js', 'strict a\n');
    await put(repo.path, 'test/b.test.js', 'strict b\n');
    await put(repo.path, 'src/x.js', 'red\n');
    const red = await commit(repo.path, 'red tests');
    await put(repo.path, 'test/a.test.js', 'weakened\n');
    await git(repo.path, ['rm', '-q', 'test/b.test.js']);
    await put(repo.path, 'test/extra.test.js', 'added by build\n');
    await put(repo.path, 'src/x.js', 'build\n');
    const build = await commit(repo.path, 'build');

    await withScratchCheckout(
      repo.path,
      build,
      async (dir) => {
        expect(await readFile(path.join(dir, 'test/a.test.js'), 'utf8')).toBe('strict a\n');
        expect(await readFile(path.join(dir, 'test/b.test.js'), 'utf8')).toBe('strict b\n');
        expect(await fileExists(path.join(dir, 'test/extra.test.js'))).toBe(false);
        expect(await readFile(path.join(dir, 'src/x.js'), 'utf8')).toBe('build\n');
      },
      { overlay: { commit: red, paths: ['test/'] } },
    );
    await withScratchCheckout(
      repo.path,
      build,
      async (dir) => {
        expect(await readFile(path.join(dir, 'test/a.test.js'), 'utf8')).toBe('strict a\n');
        expect(await fileExists(path.join(dir, 'test/b.test.js'))).toBe(false);
        expect(await fileExists(path.join(dir, 'test/extra.test.js'))).toBe(true);
      },
      { overlay: { commit: red, paths: ['./test/a.test.js'] } },
    );
    await expect(
      withScratchCheckout(repo.path, build, async () => 1, {
        overlay: { commit: red, paths: ['../outside'] },
      }),
    ).rejects.toBeInstanceOf(BadInputError);
  });

  it('lets an overlay file replace a directory of the main commit', async () => {
    const { repo } = await sampleSetup();
    await put(repo.path, 'spec', 'a file\n');
    const first = await commit(repo.path, 'spec as a file');
    await git(repo.path, ['rm', '-q', 'spec']);
    await put(repo.path, 'spec/inner.txt', 'a directory now\n');
    const second = await commit(repo.path, 'spec as a directory');
    await withScratchCheckout(
      repo.path,
      second,
      async (dir) => {
        expect(await readFile(path.join(dir, 'spec'), 'utf8')).toBe('a file\n');
      },
      { overlay: { commit: first, paths: ['spec'] } },
    );
  });

  it('removes the directory when the callback throws, also read-only leftovers', async () => {
    const { repo, tmp } = await sampleSetup();
    for (const reuse of [false, true]) {
      const root = path.join(tmp, `scratch-${reuse}`);
      let seen = '';
      const failure = withScratchCheckout(
        repo.path,
        'HEAD',
        async (dir) => {
          seen = dir;
          await mkdir(path.join(dir, 'locked/deeper'), { recursive: true });
          await put(dir, 'locked/deeper/f', 'x');
          await chmod(path.join(dir, 'locked/deeper'), 0o500);
          await chmod(path.join(dir, 'locked'), 0o500);
          throw new Error('gate blew up');
        },
        { root, reuse },
      );
      await expect(failure).rejects.toThrow('gate blew up');
      expect(seen).not.toBe('');
      // A kept directory goes when the pool is drained (the factory does it when it stops).
      if (reuse) expect(await drainScratchPool(root)).toEqual([seen]);
      expect(await fileExists(seen)).toBe(false);
    }
  });

  it('gives 20 parallel checkouts of one repository own directories, none left over', async () => {
    const { repo, tmp } = await sampleSetup();
    const root = path.join(tmp, 'scratch');
    const head = await git(repo.path, ['rev-parse', 'HEAD']);
    const expected = await trackedFiles(repo.path, head);
    const dirs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        withScratchCheckout(
          repo.path,
          head,
          async (dir) => {
            expect(await listFiles(dir)).toEqual(expected);
            await put(dir, 'own.txt', String(i));
            await new Promise((resolve) => setTimeout(resolve, 10));
            expect(await readFile(path.join(dir, 'own.txt'), 'utf8')).toBe(String(i));
            return dir;
          },
          { root },
        ),
      ),
    );
    expect(new Set(dirs).size).toBe(20);
    // At most two are kept for the next checkout of this repository; the rest are gone.
    expect((await readdir(root)).length).toBe(2);
    await drainScratchPool(root);
    expect(await readdir(root)).toEqual([]);
    const worktrees = await git(repo.path, ['worktree', 'list', '--porcelain']);
    expect(worktrees.split('\n').filter((l) => l.startsWith('worktree '))).toHaveLength(1);
  });

  it('refuses an unknown commit with bad input and creates nothing', async () => {
    const { repo, tmp } = await sampleSetup();
    const root = path.join(tmp, 'scratch');
    await expect(
      withScratchCheckout(repo.path, 'no-such-rev', async () => 1, { root }),
    ).rejects.toBeInstanceOf(BadInputError);
    expect(await fileExists(root)).toBe(false);
  });

  it('refuses a crafted tree whose entries would escape the directory', async () => {
    const { repo, tmp } = await sampleSetup();
    const fileSha = await git(repo.path, ['rev-parse', 'HEAD:package.json']);
    const entry = (name: string) =>
      Buffer.concat([Buffer.from(`100644 ${name}\0`), Buffer.from(fileSha, 'hex')]);
    const inner = await execa(
      'git',
      ['hash-object', '-t', 'tree', '-w', '--literally', '--stdin'],
      {
        cwd: repo.path,
        input: entry('escaped.txt'),
      },
    );
    const outer = Buffer.concat([
      Buffer.from('40000 ..\0'),
      Buffer.from(inner.stdout.trim(), 'hex'),
    ]);
    const tree = await execa('git', ['hash-object', '-t', 'tree', '-w', '--literally', '--stdin'], {
      cwd: repo.path,
      input: outer,
    });
    const crafted = await git(repo.path, ['commit-tree', '-m', 'crafted', tree.stdout.trim()]);
    const root = path.join(tmp, 'scratch');
    await expect(
      withScratchCheckout(repo.path, crafted, async () => 1, { root }),
    ).rejects.toBeInstanceOf(ScratchCheckoutError);
    expect(await fileExists(path.join(tmp, 'escaped.txt'))).toBe(false);
    expect(await readdir(root).catch(() => [])).toEqual([]);
  });
});

describe('withScratchCheckout objects', () => {
  it('streams a blob larger than the in-memory bound to its file, mode kept', async () => {
    const { repo, tmp } = await sampleSetup();
    const big = Buffer.alloc(33 * 1024 * 1024 + 7, 'z');
    await put(repo.path, 'big.bin', '');
    await writeFile(path.join(repo.path, 'big.bin'), big);
    await chmod(path.join(repo.path, 'big.bin'), 0o755);
    const head = await commit(repo.path, 'large file');
    const seen = await withScratchCheckout(
      repo.path,
      head,
      async (dir) => {
        const info = await stat(path.join(dir, 'big.bin'));
        const same = (await readFile(path.join(dir, 'big.bin'))).equals(big);
        return { size: info.size, mode: info.mode & 0o777, same };
      },
      { root: path.join(tmp, 'scratch') },
    );
    expect(seen).toEqual({ size: big.length, mode: 0o755, same: true });
  });

  it('refuses a tree naming a blob the repository does not have', async () => {
    const { repo, tmp } = await sampleSetup();
    const entry = Buffer.concat([Buffer.from('100644 ghost\0'), Buffer.alloc(20, 0xab)]);
    const tree = await execa('git', ['hash-object', '-t', 'tree', '-w', '--literally', '--stdin'], {
      cwd: repo.path,
      input: entry,
    });
    const crafted = await git(repo.path, ['commit-tree', '-m', 'ghost', tree.stdout.trim()]);
    const failure = withScratchCheckout(repo.path, crafted, async () => 1, {
      root: path.join(tmp, 'scratch'),
    });
    await expect(failure).rejects.toMatchObject({ code: 'SCRATCH_OBJECT_MISSING' });
  });
});

/**
 * A file's birth time: one written anew shows a new one, where it may get the inode number the
 * file it replaced just freed.
 */
function born(file: string): bigint {
  return lstatSync(file, { bigint: true }).birthtimeNs;
}

/** `dir` holds exactly `rev`'s tree: the same paths, bytes, link targets and executable bits. */
async function expectExactly(dir: string, repo: string, rev: string): Promise<void> {
  expect(await listFiles(dir)).toEqual(await trackedFiles(repo, rev));
  const { stdout } = await runGit(repo, ['ls-tree', '-r', '-z', rev]);
  for (const line of splitNul(stdout)) {
    const [meta, file] = line.split('\t') as [string, string];
    const [mode, , sha] = meta.split(' ') as [string, string, string];
    const blob = (
      await execa('git', ['-C', repo, 'cat-file', 'blob', sha], {
        encoding: 'buffer',
        stripFinalNewline: false,
      })
    ).stdout;
    const full = path.join(dir, file);
    if (mode === '120000') expect(await readlink(full)).toBe(Buffer.from(blob).toString());
    else {
      expect(Buffer.compare(await readFile(full), Buffer.from(blob)), file).toBe(0);
      const info = await lstat(full);
      expect(info.isFile() && info.nlink === 1, file).toBe(true);
      expect(info.mode & 0o777, file).toBe(mode === '100755' ? 0o755 : 0o644);
    }
  }
}

describe('withScratchCheckout reusing a kept directory', () => {
  it('brings a directory a gate tampered with back to exactly the tree', async () => {
    const { repo, tmp } = await sampleSetup();
    const root = path.join(tmp, 'scratch');
    await put(repo.path, 'lib/deep/one.js', 'export const one = 1;\n');
    await put(repo.path, 'lib/deep/two.js', 'export const two = 2;\n');
    await put(repo.path, 'lib/three.js', 'export const three = 3;\n');
    await put(repo.path, 'docs/same-size.txt', 'AAAA\n');
    await put(repo.path, 'docs/kept.txt', 'untouched\n');
    await put(repo.path, 'lib/untouched.js', 'export {};\n');
    await symlink('kept.txt', path.join(repo.path, 'docs/link'));
    const head = await commit(repo.path, 'reuse fixture');
    const outside = path.join(tmp, 'outside');
    await put(outside, 'planted.js', 'export const one = "planted";\n');
    const first = await withScratchCheckout(
      repo.path,
      head,
      async (dir) => {
        const at = (p: string) => path.join(dir, p);
        // Every kind of change a test suite (or a hostile one) can leave behind, done at once,
        // so most land in the same clock tick as the hand-out.
        await writeFile(at('docs/same-size.txt'), 'BBBB\n'); // same size, new bytes
        await chmod(at('lib/three.js'), 0o755);
        await writeFile(at('lib/deep/two.js'), 'appended\n', { flag: 'a' });
        await rm(at('docs/kept.txt'));
        await writeFile(at('docs/kept.txt'), 'untouched\n'); // same bytes, new inode
        await rm(at('lib/deep'), { recursive: true });
        await symlink(outside, at('lib/deep')); // a directory swapped for a link elsewhere
        await put(dir, 'build/out.js', 'generated\n');
        await put(dir, '.cache/x', 'cache\n');
        await rm(at('docs/link'));
        await symlink('/etc/passwd', at('docs/link'));
        await link(at('lib/three.js'), at('hardlink.js'));
        await execa('mkfifo', [at('fifo')]);
        await chmod(at('docs'), 0o500);
        return [dir, born(at('lib/untouched.js'))];
      },
      // No pause before the hand-out: the untouched files are vouched for and kept all the same,
      // and only what the gate changed (most of it within the hand-out's clock tick) is rewritten.
      { root },
    );
    const second = await withScratchCheckout(
      repo.path,
      head,
      async (dir) => {
        await expectExactly(dir, repo.path, head);
        expect((await lstat(path.join(dir, 'docs'))).mode & 0o777).toBe(0o755);
        return [dir, born(path.join(dir, 'lib/untouched.js'))];
      },
      { root },
    );
    expect(second).toEqual(first);
    expect(await readFile(path.join(outside, 'planted.js'), 'utf8')).toContain('planted');
    await drainScratchPool(root);
  });

  it('writes only what differs from the last tree, and keeps the rest in place', async () => {
    const { repo, tmp } = await sampleSetup();
    const root = path.join(tmp, 'scratch');
    for (let i = 0; i < 50; i++) await put(repo.path, `vendor/f${i}.js`, `export default ${i};\n`);
    await put(repo.path, 'src/change.js', 'old\n');
    await put(repo.path, 'src/gone.js', 'gone\n');
    const a = await commit(repo.path, 'a');
    await put(repo.path, 'src/change.js', 'new\n');
    await put(repo.path, 'src/added/new.js', 'added\n');
    await git(repo.path, ['rm', '-q', 'src/gone.js']);
    const b = await commit(repo.path, 'b');
    const birth = async (dir: string) => born(path.join(dir, 'vendor/f7.js'));
    const before = await withScratchCheckout(repo.path, a, async (dir) => [dir, await birth(dir)], {
      root,
    });
    const after = await withScratchCheckout(
      repo.path,
      b,
      async (dir) => {
        await expectExactly(dir, repo.path, b);
        return [dir, await birth(dir)];
      },
      { root },
    );
    expect(after).toEqual(before);
    // And back: the directory follows whatever tree is asked for next.
    await withScratchCheckout(repo.path, a, (dir) => expectExactly(dir, repo.path, a), { root });
    await drainScratchPool(root);
  });

  it('vouches next time for the files it wrote just before the hand-out', async () => {
    const { repo, tmp } = await sampleSetup();
    const root = path.join(tmp, 'scratch');
    const names = Array.from({ length: 20 }, (_, i) => `src/f${i}.js`);
    for (const name of names) await put(repo.path, name, 'old\n');
    const a = await commit(repo.path, 'a');
    for (const name of names) await put(repo.path, name, 'new\n');
    const b = await commit(repo.path, 'b');
    const births = (dir: string) => names.map((name) => born(path.join(dir, name)));
    // As the hand-over to the sandbox user does (a look at each path and a chown, synchronous),
    // with no pause: the last change to each file and the hand-out fall within one clock tick.
    const handOver = async (dir: string) => {
      for (const p of [dir, ...names.map((name) => path.join(dir, name))])
        chmodSync(p, lstatSync(p).mode & 0o7777);
    };
    await withScratchCheckout(repo.path, a, async () => {}, { root, prepare: handOver });
    const written = await withScratchCheckout(repo.path, b, async (dir) => births(dir), {
      root,
      prepare: handOver,
    });
    const reused = await withScratchCheckout(
      repo.path,
      b,
      async (dir) => {
        await expectExactly(dir, repo.path, b);
        return births(dir);
      },
      { root, prepare: handOver },
    );
    // Kept in place, not written again because their last change shared the hand-out's tick.
    expect(reused).toEqual(written);
    await drainScratchPool(root);
  });

  it('keeps no more than two free directories of one repository', async () => {
    const { repo, tmp } = await sampleSetup();
    const root = path.join(tmp, 'scratch');
    const hold = (n: number): Promise<unknown> =>
      n === 0
        ? Promise.resolve()
        : withScratchCheckout(repo.path, 'HEAD', () => hold(n - 1), { root });
    await hold(4);
    expect((await readdir(root)).length).toBe(2);
    expect(await drainScratchPool(root)).toHaveLength(2);
    expect(await readdir(root)).toEqual([]);
  });
});

describe('sweepScratchCheckouts', () => {
  it('removes only scratch directories older than the threshold', async () => {
    const root = await tempDir('lw-sweep-');
    await mkdir(path.join(root, 'scratch-old-1'));
    await put(root, 'scratch-old-1/f', 'x');
    await mkdir(path.join(root, 'scratch-new-1'));
    await mkdir(path.join(root, 'other-old'));
    const old = new Date(Date.now() - 3 * 3600_000);
    await utimes(path.join(root, 'scratch-old-1'), old, old);
    await utimes(path.join(root, 'other-old'), old, old);
    const removed = await sweepScratchCheckouts({ root, olderThanMs: 3600_000 });
    expect(removed).toEqual([path.join(root, 'scratch-old-1')]);
    expect((await readdir(root)).sort()).toEqual(['other-old', 'scratch-new-1']);
  });

  it('removes a fresh scratch directory at once when the process that made it died', async () => {
    const root = await tempDir('lw-sweep-');
    const started = processStartTime(process.pid)!;
    const mine = `scratch-0123abcd-p${process.pid}.${started}-AbC123`;
    // Same pid, another start time: the pid was reused, the creator is gone.
    const gone = `scratch-0123abcd-p${process.pid}.${Number(started) + 1}-XyZ789`;
    for (const name of [mine, gone]) await mkdir(path.join(root, name));
    const removed = await sweepScratchCheckouts({ root, olderThanMs: 3600_000 });
    expect(removed).toEqual([path.join(root, gone)]);
    expect(await readdir(root)).toEqual([mine]);
  });

  it('names each scratch directory after the process that made it', async () => {
    const { repo, tmp } = await sampleSetup();
    const root = path.join(tmp, 'scratch');
    const seen = await withScratchCheckout(repo.path, 'HEAD', async (dir) => path.basename(dir), {
      root,
    });
    expect(seen).toMatch(new RegExp(`^scratch-HEAD-p${process.pid}\\.\\d+-\\w{6}$`));
  });
});
