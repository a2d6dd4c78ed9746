import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readUntrustedFile, readWalkedFile } from './untrusted-file.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function root(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lw-untrusted-'));
  roots.push(dir);
  mkdirSync(path.join(dir, '.loopwright'));
  return dir;
}

describe('readUntrustedFile', () => {
  it('reads a regular file whole, up to and including the cap', async () => {
    const ws = root();
    writeFileSync(path.join(ws, '.loopwright/report.json'), '{"ok":true}');
    writeFileSync(path.join(ws, 'exact.txt'), 'é'.repeat(512)); // 1024 bytes
    writeFileSync(path.join(ws, 'empty.txt'), '');

    expect(await readUntrustedFile(ws, '.loopwright/report.json')).toEqual({
      ok: true,
      text: '{"ok":true}',
    });
    expect(await readUntrustedFile(ws, 'exact.txt', { maxBytes: 1024 })).toEqual({
      ok: true,
      text: 'é'.repeat(512),
    });
    expect(await readUntrustedFile(ws, 'empty.txt')).toEqual({ ok: true, text: '' });
  });

  it('refuses a file one byte over the cap, and one that is not UTF-8', async () => {
    const ws = root();
    writeFileSync(path.join(ws, 'big.txt'), 'x'.repeat(1025));
    writeFileSync(path.join(ws, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));

    expect(await readUntrustedFile(ws, 'big.txt', { maxBytes: 1024 })).toMatchObject({
      ok: false,
      why: 'too-large',
    });
    expect(await readUntrustedFile(ws, 'latin1.txt')).toMatchObject({
      ok: false,
      why: 'not-utf8',
    });
  });

  it('never follows a symlink, as the file or as a directory on the way', async () => {
    const ws = root();
    const outside = mkdtempSync(path.join(os.tmpdir(), 'lw-untrusted-outside-'));
    roots.push(outside);
    writeFileSync(path.join(outside, 'secret'), 'secret');
    symlinkSync(path.join(outside, 'secret'), path.join(ws, '.loopwright/report.json'));
    symlinkSync(outside, path.join(ws, 'linked'));

    const asFile = await readUntrustedFile(ws, '.loopwright/report.json');
    const asDir = await readUntrustedFile(ws, 'linked/secret');

    expect(asFile).toMatchObject({ ok: false, why: 'not-regular' });
    expect(asDir).toMatchObject({ ok: false, why: 'not-regular' });
    expect(JSON.stringify([asFile, asDir])).not.toContain('"text"');
  });

  it('answers for a FIFO at once instead of blocking on it', async () => {
    const ws = root();
    execFileSync('mkfifo', [path.join(ws, '.loopwright/report.json')]);

    expect(await readUntrustedFile(ws, '.loopwright/report.json')).toMatchObject({
      ok: false,
      why: 'not-regular',
    });
  });

  it('refuses paths that leave the root, and says a missing file is missing', async () => {
    const ws = root();

    expect(await readUntrustedFile(ws, '../etc/passwd')).toMatchObject({ why: 'unsafe-path' });
    expect(await readUntrustedFile(ws, '/etc/passwd')).toMatchObject({ why: 'unsafe-path' });
    expect(await readUntrustedFile(ws, 'nope/report.json')).toMatchObject({ why: 'missing' });
    expect(await readUntrustedFile(ws, '.loopwright/none.json')).toMatchObject({ why: 'missing' });
  });
});

describe('readWalkedFile', () => {
  it('reads small, empty and large files whole (a large one in chunks)', async () => {
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    for (const content of [bytes, Buffer.alloc(0), Buffer.alloc(200 * 1024, 7), bigger()]) {
      const full = walkedFile('f.bin', content);
      expect((await readWalkedFile(full)).equals(content)).toBe(true);
    }
  });

  it('reads what is there now when the file changed after it was looked at', async () => {
    const full = walkedFile('f.txt', 'before\n');
    writeFileSync(full, 'after, and longer\n'); // another size
    expect((await readWalkedFile(full)).toString()).toBe('after, and longer\n');
    const other = path.join(path.dirname(full), 'other.txt');
    writeFileSync(other, 'a new inode\n');
    renameSync(other, full); // the same size, another file
    expect((await readWalkedFile(full)).toString()).toBe('a new inode\n');
  });

  it('refuses what was swapped in after the walk: a link to a file outside, a FIFO', async () => {
    const full = walkedFile('f.txt', 'mine\n');
    const secret = path.join(path.dirname(full), 'outside.txt');
    writeFileSync(secret, 'not for the commit\n');
    rmSync(full);
    symlinkSync(secret, full);
    await expect(readWalkedFile(full)).rejects.toThrow();
    rmSync(full);
    execFileSync('mkfifo', [full]); // nobody ever writes: reading it would wait for ever
    await expect(readWalkedFile(full)).rejects.toThrow(/no longer a regular file/);
  });
});

/** A file in a fresh workspace folder. */
function walkedFile(name: string, content: string | Buffer): string {
  const full = path.join(root(), name);
  writeFileSync(full, content);
  return full;
}

/** 2.5 MiB of varied bytes: more than one chunk. */
function bigger(): Buffer {
  const out = Buffer.allocUnsafe(2.5 * 1024 * 1024);
  for (let i = 0; i < out.length; i++) out[i] = (i * 31) % 251;
  return out;
}
