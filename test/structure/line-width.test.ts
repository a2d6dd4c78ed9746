/**
 * No tracked source line is wider than the formatter's width (100 columns, counted in characters).
 * Biome keeps code within it but leaves string and template literals and comments alone, so this
 * test lists every tracked `.ts`/`.js`/`.mjs` line over the width and fails on any. A planted long
 * line in a temporary file shows the check can fail.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const WIDTH = 100;
const SOURCE = /\.(ts|js|mjs)$/;
const run = promisify(execFile);

/** `file:line: width` for every line of `files` wider than WIDTH. */
async function longLines(root: string, files: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const file of files) {
    const lines = (await readFile(path.join(root, file), 'utf8')).split('\n');
    lines.forEach((line, i) => {
      const width = [...line].length;
      if (width > WIDTH) found.push(`${file}:${i + 1}: ${width} columns`);
    });
  }
  return found;
}

async function trackedSources(): Promise<string[]> {
  const { stdout } = await run('git', ['ls-files', '-z'], { cwd: ROOT, maxBuffer: 64 << 20 });
  return stdout.split('\0').filter((f) => SOURCE.test(f));
}

describe('line width', () => {
  it(`keeps every tracked source line within ${WIDTH} columns`, async () => {
    const files = await trackedSources();
    expect(files.length).toBeGreaterThan(100);
    expect(await longLines(ROOT, files)).toEqual([]);
  });

  it('reports a planted long line with its file and line number', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lw-line-width-'));
    try {
      const ok = `export const fits = '${'x'.repeat(WIDTH - 23)}';`;
      const long = `export const wide = '${'x'.repeat(WIDTH - 22)}';`;
      expect([...ok].length).toBe(WIDTH);
      await writeFile(path.join(dir, 'planted.ts'), `${ok}\n${long}\n// ·${'—'.repeat(96)}\n`);
      expect(await longLines(dir, ['planted.ts'])).toEqual([`planted.ts:2: ${WIDTH + 1} columns`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
