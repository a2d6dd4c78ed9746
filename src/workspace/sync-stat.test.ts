import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readWalkedFile, statOrNull } from './sync-stat.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function file(name: string, content: string | Buffer): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lw-walked-'));
  roots.push(dir);
  const full = path.join(dir, name);
  writeFileSync(full, content);
  return full;
}

describe('readWalkedFile', () => {
  it('reads small, empty and large files whole (a large one in chunks)', async () => {
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    for (const content of [bytes, Buffer.alloc(0), Buffer.alloc(200 * 1024, 7), bigger()]) {
      const full = file('f.bin', content);
      expect((await readWalkedFile(full, statOrNull(full)!)).equals(content)).toBe(true);
    }
  });

  it('reads what is there now when the file changed after it was looked at', async () => {
    const full = file('f.txt', 'before\n');
    const seen = statOrNull(full)!;
    writeFileSync(full, 'after, and longer\n'); // another size
    expect((await readWalkedFile(full, seen)).toString()).toBe('after, and longer\n');
    const other = path.join(path.dirname(full), 'other.txt');
    writeFileSync(other, 'a new inode\n');
    const looked = statOrNull(full)!;
    renameSync(other, full); // the same size, another file
    expect((await readWalkedFile(full, looked)).toString()).toBe('a new inode\n');
  });

  it('refuses what was swapped in after the walk: a link to a file outside, a FIFO', async () => {
    const full = file('f.txt', 'mine\n');
    const seen = statOrNull(full)!;
    const secret = path.join(path.dirname(full), 'outside.txt');
    writeFileSync(secret, 'not for the commit\n');
    rmSync(full);
    symlinkSync(secret, full);
    await expect(readWalkedFile(full, seen)).rejects.toThrow();
    rmSync(full);
    execFileSync('mkfifo', [full]); // nobody ever writes: reading it would wait for ever
    await expect(readWalkedFile(full, seen)).rejects.toThrow(/no longer a regular file/);
  });
});

/** 2.5 MiB of varied bytes: more than one chunk. */
function bigger(): Buffer {
  const out = Buffer.allocUnsafe(2.5 * 1024 * 1024);
  for (let i = 0; i < out.length; i++) out[i] = (i * 31) % 251;
  return out;
}
