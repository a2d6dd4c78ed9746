import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/package-root.js';
import { ORACLE_VERSION, oracleCodeDigest } from '../../src/oracle/pins.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A package root with oracle sources and a compiled copy that differs from them. */
async function fakeRoot(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lw-pins-'));
  dirs.push(root);
  await mkdir(path.join(root, 'src', 'oracle'), { recursive: true });
  await mkdir(path.join(root, 'dist', 'src', 'oracle'), { recursive: true });
  await writeFile(path.join(root, 'src', 'oracle', 'oracle.ts'), 'export const a: number = 1;\n');
  await writeFile(path.join(root, 'src', 'oracle', 'pins.ts'), 'export const b = 2;\n');
  await writeFile(path.join(root, 'src', 'oracle', 'pins.test.ts'), 'test("x", () => {});\n');
  await writeFile(path.join(root, 'dist', 'src', 'oracle', 'oracle.js'), 'export const a = 1;\n');
  return root;
}

describe('the oracle code pin', () => {
  it('is the digest of the oracle sources, tests left out', async () => {
    const root = await fakeRoot();
    const expected = createHash('sha256')
      .update(
        `${ORACLE_VERSION}\0oracle.ts\0export const a: number = 1;\n` +
          `\0pins.ts\0export const b = 2;\n`,
      )
      .digest('hex');
    expect(await oracleCodeDigest(root)).toBe(expected);
  });

  it('ignores the compiled files, so src and dist runs pin the same value', async () => {
    const root = await fakeRoot();
    const before = await oracleCodeDigest(root);
    await writeFile(path.join(root, 'dist', 'src', 'oracle', 'oracle.js'), 'export const a = 9;\n');
    await writeFile(path.join(root, 'dist', 'src', 'oracle', 'extra.js'), 'export {};\n');
    expect(await oracleCodeDigest(root)).toBe(before);
  });

  it('changes when an oracle source changes', async () => {
    const root = await fakeRoot();
    const before = await oracleCodeDigest(root);
    await writeFile(path.join(root, 'src', 'oracle', 'pins.ts'), 'export const b = 3;\n');
    expect(await oracleCodeDigest(root)).not.toBe(before);
  });

  it('reads this package by default, wherever the running module lives', async () => {
    expect(await oracleCodeDigest()).toBe(await oracleCodeDigest(packageRoot()));
    expect(await oracleCodeDigest()).toMatch(/^[0-9a-f]{64}$/);
  });
});
