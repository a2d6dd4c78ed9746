import { readFileSync } from 'node:fs';
import { chmod, lstat, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runGit, splitNul } from '../../src/workspace/git.js';
import {
  closeObjectStores,
  IDLE_MS,
  ObjectStoreError,
  objectStore,
  objectStorePids,
} from '../../src/workspace/object-store.js';
import { commit, git, put, sampleSetup, tempDir } from './helpers.js';

afterEach(closeObjectStores);

/** A process that exited is dead, also while no one has reaped it yet (a zombie). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function lsTree(
  repo: string,
  rev: string,
): Promise<Map<string, { mode: string; sha: string }>> {
  const { stdout } = await runGit(repo, ['ls-tree', '-r', '-z', '--full-tree', rev]);
  const out = new Map<string, { mode: string; sha: string }>();
  for (const line of splitNul(stdout)) {
    const tab = line.indexOf('\t');
    const [mode = '', , sha = ''] = line.slice(0, tab).split(' ');
    out.set(line.slice(tab + 1), { mode, sha });
  }
  return out;
}

describe('objectStore', () => {
  it('lists a tree it listed before from memory, as a copy the caller may change', async () => {
    const { repo } = await sampleSetup();
    for (let i = 0; i < 5; i++) await put(repo.path, `pkg-${i}/f.js`, `export default ${i};\n`);
    const head = await commit(repo.path, 'five folders');
    const store = objectStore(path.join(repo.path, '.git'));
    const first = await store.listTree(head);
    first!.delete('pkg-0/f.js');
    const reads = vi.spyOn(store, 'read');
    // By another name for the same tree: only the root is asked for again.
    const again = await store.listTree(`${head}^{commit}`);
    expect(reads).toHaveBeenCalledTimes(1);
    reads.mockRestore();
    expect([...again!.entries()]).toEqual([...(await lsTree(repo.path, head)).entries()]);
  });

  it('lists a tree as ls-tree -r does: order, modes, symlinks, gitlinks, odd names', async () => {
    const { repo } = await sampleSetup();
    await put(repo.path, 'bin/run.sh', '#!/bin/sh\n');
    await chmod(path.join(repo.path, 'bin/run.sh'), 0o755);
    await put(repo.path, 'a b/ü ñ.txt', 'unicode\n');
    await put(repo.path, 'a-b/c', 'sorts after "a b" and before "a/"\n');
    await put(repo.path, 'a/deep/er/x', 'x\n');
    await symlink('a/deep/er/x', path.join(repo.path, 'link'));
    await git(repo.path, ['add', '--all']);
    const gitlink = await git(repo.path, ['rev-parse', 'HEAD']);
    await git(repo.path, ['update-index', '--add', '--cacheinfo', `160000,${gitlink},sub`]);
    await git(repo.path, ['commit', '-q', '-m', 'fixture']);
    const gitDir = path.join(repo.path, '.git');
    const listed = await objectStore(gitDir).listTree('HEAD');
    const expected = await lsTree(repo.path, 'HEAD');
    expect([...listed!.entries()]).toEqual([...expected.entries()]);
    expect(listed!.get('sub')?.mode).toBe('160000');
    expect(listed!.get('link')?.mode).toBe('120000');
    expect(listed!.get('bin/run.sh')?.mode).toBe('100755');
  });

  it('reads blobs and commits, and says null for a name that names nothing', async () => {
    const { repo } = await sampleSetup();
    await put(repo.path, 'f.txt', 'hello\n');
    await put(repo.path, ' lead/trail /f ', 'spaced\n');
    const head = await commit(repo.path, 'subject\n\nbody\n\nLoopwright-Run: 1234');
    const store = objectStore(path.join(repo.path, '.git'));
    const blob = await store.read(`${head}:f.txt`);
    expect(blob?.type).toBe('blob');
    expect(blob?.content.toString()).toBe('hello\n');
    expect((await store.read(`${head}: lead/trail /f `))?.content.toString()).toBe('spaced\n');
    expect((await store.readTree(`${head}: lead/trail `))?.map((r) => r.name)).toEqual(['f ']);
    const parsed = await store.readCommit('HEAD');
    expect(parsed?.sha).toBe(head);
    expect(parsed?.parents).toEqual([await git(repo.path, ['rev-parse', 'HEAD^'])]);
    expect(parsed?.tree).toBe(await git(repo.path, ['rev-parse', 'HEAD^{tree}']));
    expect(parsed?.message).toContain('Loopwright-Run: 1234');
    expect(await store.resolve('refs/heads/nope')).toBeNull();
    expect(await store.read('0'.repeat(40))).toBeNull();
    expect(await store.readCommit(`${head}^{tree}`)).toBeNull();
    expect(await store.listTree('refs/heads/nope')).toBeNull();
    expect(await store.resolve('HEAD\ncontents HEAD')).toBeNull();
    expect(await store.resolve(' HEAD')).toBeNull();
    // Still in step after the refusals.
    expect(await store.resolve('HEAD')).toBe(head);
  });

  it('sees refs moved, loose objects written and objects packed by other processes', async () => {
    const { repo } = await sampleSetup();
    const gitDir = path.join(repo.path, '.git');
    const store = objectStore(gitDir);
    const first = await store.resolve('refs/heads/main^{commit}');
    expect(first).toBe(await git(repo.path, ['rev-parse', 'HEAD']));
    const pid = objectStorePids()[0]!;
    await put(repo.path, 'new.txt', 'new\n');
    const second = await commit(repo.path, 'moved by another process');
    expect(await store.resolve('refs/heads/main^{commit}')).toBe(second);
    const blob = await git(repo.path, ['hash-object', '-w', '--stdin'], { input: 'loose one\n' });
    expect((await store.read(blob))?.content.toString()).toBe('loose one\n');
    await git(repo.path, ['update-ref', 'refs/heads/side', second]);
    await git(repo.path, ['repack', '-a', '-d', '-q']);
    await git(repo.path, ['prune-packed']);
    await git(repo.path, ['pack-refs', '--all']);
    await put(repo.path, 'later.txt', 'packed later\n');
    const third = await commit(repo.path, 'after repack');
    await git(repo.path, ['repack', '-d', '-q']);
    await git(repo.path, ['prune-packed']);
    expect(await store.resolve('refs/heads/side')).toBe(second);
    expect((await store.listTree(third))?.has('later.txt')).toBe(true);
    expect(objectStorePids()).toEqual([pid]); // all of it by the same process
  });

  it('refuses an object over its cap without reading it, then answers on', async () => {
    const { repo } = await sampleSetup();
    await writeFile(path.join(repo.path, 'big.bin'), Buffer.alloc(4 * 1024 * 1024, 1));
    const head = await commit(repo.path, 'big');
    const store = objectStore(path.join(repo.path, '.git'));
    const big = store.read(`${head}:big.bin`, { maxBytes: 1024 * 1024 });
    const after = store.read(`${head}:README.md`);
    await expect(big).rejects.toMatchObject({ code: 'OBJECT_TOO_LARGE' });
    await expect(big).rejects.toBeInstanceOf(ObjectStoreError);
    expect((await after)?.type).toBe('blob');
    expect((await store.read(`${head}:big.bin`))?.size).toBe(4 * 1024 * 1024);
  });

  it('restarts a git process that died and sends it the unanswered request again', async () => {
    const { repo } = await sampleSetup();
    const store = objectStore(path.join(repo.path, '.git'));
    const head = await store.resolve('HEAD');
    const [pid] = objectStorePids();
    process.kill(pid!, 'SIGKILL');
    expect(await store.resolve('HEAD')).toBe(head);
    expect(objectStorePids()).toHaveLength(1);
    expect(objectStorePids()[0]).not.toBe(pid);
  });

  it('runs no filter or program from the repository config or attributes', async () => {
    const { repo, tmp } = await sampleSetup();
    const marker = path.join(tmp, 'ran');
    await put(repo.path, '.gitattributes', '* filter=evil diff=evil\n');
    await put(repo.path, 'f.txt', 'raw bytes\r\n');
    const head = await commit(repo.path, 'attrs');
    for (const key of ['filter.evil.smudge', 'filter.evil.process', 'diff.evil.textconv'])
      await git(repo.path, ['config', key, `touch ${marker}`]);
    await git(repo.path, ['config', 'core.fsmonitor', `touch ${marker}`]);
    const blob = await objectStore(path.join(repo.path, '.git')).read(`${head}:f.txt`);
    expect(blob?.content.toString()).toBe('raw bytes\r\n');
    await expect(lstat(marker)).rejects.toThrow();
  });

  it('leaves no process behind: closed on request, and never keeps node alive', async () => {
    const { repo } = await sampleSetup();
    const gitDir = path.join(repo.path, '.git');
    await objectStore(gitDir).resolve('HEAD');
    const [pid] = objectStorePids();
    expect(alive(pid!)).toBe(true);
    await closeObjectStores();
    expect(alive(pid!)).toBe(false);
    const module = path.resolve('src/workspace/object-store.ts');
    const code =
      `const { objectStore, objectStorePids } = await import(${JSON.stringify(module)});` +
      `const sha = await objectStore(${JSON.stringify(gitDir)}).resolve('HEAD');` +
      'console.log(sha, objectStorePids()[0]);';
    const started = Date.now();
    const child = await execa(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', code],
      { timeout: 20_000 },
    );
    expect(Date.now() - started).toBeLessThan(IDLE_MS);
    const [sha, childGit] = child.stdout.trim().split(' ');
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    // Its git saw EOF when node exited.
    for (let i = 0; i < 50 && alive(Number(childGit)); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(alive(Number(childGit))).toBe(false);
  });

  it('answers what was asked before a close, then ends its process', async () => {
    const { repo } = await sampleSetup();
    const store = objectStore(path.join(repo.path, '.git'));
    const head = await store.resolve('HEAD');
    const [pid] = objectStorePids();
    const asked = Promise.all([store.listTree('HEAD'), store.resolve('HEAD'), store.read('HEAD')]);
    await closeObjectStores();
    const [tree, sha, object] = await asked;
    expect(tree?.has('README.md')).toBe(true);
    expect(sha).toBe(head);
    expect(object?.type).toBe('commit');
    expect(alive(pid!)).toBe(false);
    // A follow-up read (listTree's subtrees) may have started another: closing again ends it.
    await closeObjectStores();
    expect(objectStorePids()).toEqual([]);
    expect(await objectStore(path.join(repo.path, '.git')).resolve('HEAD')).toBe(head);
  });

  it('works on a bare repository and a tree deeper than one pipelined round', async () => {
    const dir = await tempDir();
    const { repo } = await sampleSetup();
    for (let i = 0; i < 30; i++) await put(repo.path, `d${i}/e/f/g${i}.txt`, `${i}\n`);
    const head = await commit(repo.path, 'wide and deep');
    const bare = path.join(dir, 'bare.git');
    await git(dir, ['clone', '-q', '--bare', repo.path, bare]);
    const listed = await objectStore(bare).listTree(head);
    expect([...listed!.keys()]).toEqual([...(await lsTree(repo.path, head)).keys()]);
    expect(await readdir(bare)).toContain('objects');
  });
});
