/**
 * `status` reports the disk the home takes, per folder, like `du`, within a time budget.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeHomeDisk, measureHome } from '../../src/cli/home-disk.js';
import { removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

describe('measureHome', () => {
  it('adds up runs, workspaces, tmp, db and the rest, without following symlinks', async () => {
    const home = tempDir('lw-disk-');
    const put = (rel: string, bytes: number) => {
      mkdirSync(path.dirname(path.join(home, rel)), { recursive: true });
      writeFileSync(path.join(home, rel), Buffer.alloc(bytes, 1));
    };
    put('runs/app-1/r.jsonl', 100_000);
    put('worktrees/app-x/app-1/big.bin', 300_000);
    put('db/server.json', 10);
    put('other/file', 50_000);
    symlinkSync('/usr', path.join(home, 'worktrees', 'link-to-usr'));
    const disk = await measureHome(home, 10_000);
    expect(disk.complete).toBe(true);
    expect(disk.runs).toBeGreaterThanOrEqual(100_000);
    expect(disk.runs).toBeLessThan(150_000);
    expect(disk.workspaces).toBeGreaterThanOrEqual(300_000);
    expect(disk.workspaces).toBeLessThan(400_000);
    expect(disk.tmp).toBe(0);
    expect(disk.bytes).toBeGreaterThanOrEqual(disk.runs + disk.workspaces + 50_000);
    expect(describeHomeDisk(disk)).toMatch(
      new RegExp(`^disk: \\d+ KiB under ${home} \\(runs \\d+ KiB, workspaces \\d+ KiB, tmp 0 B`),
    );
  });

  it('a walk out of time says its numbers are lower bounds', async () => {
    const home = tempDir('lw-disk-');
    for (let i = 0; i < 50; i++) mkdirSync(path.join(home, 'runs', `t-${i}`), { recursive: true });
    const disk = await measureHome(home, -1);
    expect(disk.complete).toBe(false);
    expect(describeHomeDisk(disk)).toMatch(/^disk: ≥ /);
  });

  it('a home that does not exist yet takes nothing', async () => {
    const disk = await measureHome(path.join(tempDir('lw-disk-'), 'missing'));
    expect(disk).toMatchObject({ bytes: 0, complete: true });
  });
});
