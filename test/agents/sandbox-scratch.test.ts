/**
 * The per-run private /tmp directories of sandboxed runs (src/agents/sandbox/scratch.ts): made
 * ahead while a factory holds a spare, each handed to exactly one run, and all removed once the
 * holders are gone and the removals settle.
 */
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { detectSandbox } from '../../src/agents/sandbox/index.js';
import {
  createScratch,
  keepSpareScratch,
  removeScratchSoon,
  SANDBOX_GITCONFIG,
  settleScratchRemovals,
} from '../../src/agents/sandbox/scratch.js';

describe('sandbox scratch directories', () => {
  it('hands a spare made ahead to one run only, and removes it when released', async () => {
    const user = (await detectSandbox()).user;
    const release = keepSpareScratch();
    await setImmediate();
    await new Promise((resolve) => setTimeout(resolve, 60));
    const asked = Date.now();
    const first = await createScratch(user);
    // Made ahead: its contents were written well before the run asked for it (file times run on
    // the kernel's coarse clock, a few ms behind Date.now()).
    expect(lstatSync(first).mtimeMs).toBeLessThan(asked - 30);
    await setImmediate(); // the next spare is made after the launch
    const second = await createScratch(user);
    await setImmediate();
    const third = await createScratch(user);
    expect(new Set([first, second, third]).size).toBe(3);
    for (const dir of [first, second, third]) {
      const info = lstatSync(dir);
      expect(info.mode & 0o777).toBe(0o700);
      if (user)
        expect([info.uid, lstatSync(path.join(dir, 'home')).uid]).toEqual([user.uid, user.uid]);
      expect(readFileSync(path.join(dir, 'home', '.gitconfig'), 'utf8')).toBe(SANDBOX_GITCONFIG);
      removeScratchSoon(dir);
    }
    await setImmediate();
    release();
    release(); // a second release changes nothing
    await settleScratchRemovals();
    for (const dir of [first, second, third]) expect(existsSync(dir)).toBe(false);
    // No spare is left behind, and without a holder none is made.
    const alone = await createScratch(user);
    await setImmediate();
    const next = await createScratch(user);
    expect(path.dirname(next)).toBe(path.dirname(alone));
    for (const dir of [alone, next]) removeScratchSoon(dir);
    await settleScratchRemovals();
    const left = [alone, next].filter((d) => existsSync(d));
    expect(left).toEqual([]);
  });
});
