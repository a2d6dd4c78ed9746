/**
 * Handing a workspace to the sandbox user again and again (before every agent run and gate):
 * whatever the orchestrator added, replaced or rebuilt since the last hand-over is the sandbox
 * user's afterwards, while directories nobody touched are not walked again.
 */
import { chownSync, lstatSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { detectSandbox, grantToSandbox } from '../../src/agents/sandbox/index.js';
import { sandboxDirs } from '../helpers/sandbox.js';

/** Past the walk's racy window: directories unchanged this long are remembered. */
const SETTLE_MS = 250;

async function sandboxUser(): Promise<{ uid: number; gid: number }> {
  const user = (await detectSandbox()).user;
  if (!user) throw new Error('these tests need a sandbox user (they run as root, like CI)');
  return user;
}

/** Hand `ws` over, let it settle, and hand it over again: every directory is remembered now. */
async function grantRemembered(ws: string): Promise<void> {
  await grantToSandbox(ws);
  await delay(SETTLE_MS);
  await grantToSandbox(ws);
}

/** Every path under `dir` (but `skip`) whose owner is not `user`. */
async function notOwned(
  dir: string,
  user: { uid: number; gid: number },
  skip: readonly string[] = [],
): Promise<string[]> {
  const wrong: string[] = [];
  for (const entry of await fs.readdir(dir, { recursive: true })) {
    if (skip.some((s) => entry === s || entry.startsWith(`${s}/`))) continue;
    const stat = lstatSync(path.join(dir, entry));
    if (stat.uid !== user.uid || stat.gid !== user.gid) wrong.push(entry);
  }
  return wrong.sort();
}

describe('grantToSandbox, run again over the same tree', () => {
  it('hands over whatever the orchestrator added, replaced or rebuilt since', async () => {
    const user = await sandboxUser();
    const { ws } = await sandboxDirs();
    await fs.mkdir(path.join(ws, 'src/lib/deep'), { recursive: true });
    await fs.mkdir(path.join(ws, 'docs'));
    for (const file of ['src/a.ts', 'src/lib/b.ts', 'src/lib/deep/c.ts', 'docs/readme.md'])
      await fs.writeFile(path.join(ws, file), file);
    await grantRemembered(ws);
    expect(await notOwned(ws, user)).toEqual([]);

    // What a reset, a checkout or a handover does, as root, between two runs.
    await fs.writeFile(path.join(ws, 'src/lib/deep/new.ts'), 'new'); // a file added deep down
    await fs.writeFile(path.join(ws, 'docs/tmp'), 'replacement');
    await fs.rename(path.join(ws, 'docs/tmp'), path.join(ws, 'docs/readme.md')); // replaced
    await fs.rm(path.join(ws, 'src/lib'), { recursive: true }); // a tree rebuilt under its name
    await fs.mkdir(path.join(ws, 'src/lib/deep'), { recursive: true });
    await fs.writeFile(path.join(ws, 'src/lib/deep/c.ts'), 'rebuilt');
    await fs.mkdir(path.join(ws, 'fresh/sub'), { recursive: true }); // a new tree
    await fs.writeFile(path.join(ws, 'fresh/sub/x'), 'x');
    await fs.writeFile(path.join(ws, 'src/a.ts'), 'rewritten in place'); // keeps its owner
    expect((await notOwned(ws, user)).length).toBeGreaterThan(0);

    await grantToSandbox(ws);

    expect(await notOwned(ws, user)).toEqual([]);
  });

  it('does not walk a remembered directory again, until an entry in it changes', async () => {
    const user = await sandboxUser();
    const { ws } = await sandboxDirs();
    await fs.mkdir(path.join(ws, 'quiet'));
    await fs.writeFile(path.join(ws, 'quiet/file'), 'x');
    await grantRemembered(ws);
    // No loopwright code does this (a chown changes no directory): it shows the walk skipped it.
    chownSync(path.join(ws, 'quiet/file'), 0, 0);

    await grantToSandbox(ws);
    expect(await notOwned(ws, user)).toEqual(['quiet/file']);

    await fs.writeFile(path.join(ws, 'quiet/another'), 'y'); // the directory changes
    await grantToSandbox(ws);
    expect(await notOwned(ws, user)).toEqual([]);
  });

  it('does not remember a directory changed just before the walk', async () => {
    const user = await sandboxUser();
    const { ws } = await sandboxDirs();
    await fs.mkdir(path.join(ws, 'busy'));
    await grantToSandbox(ws);
    await delay(SETTLE_MS);
    // Synchronous, right before the walk: the change and the look share a moment.
    writeFileSync(path.join(ws, 'busy/first'), 'x');
    await grantToSandbox(ws); // 'busy' changed a moment ago: walked, not remembered
    chownSync(path.join(ws, 'busy/first'), 0, 0);

    await grantToSandbox(ws);

    expect(await notOwned(ws, user)).toEqual([]);
  });

  it('leaves a hard-linked file alone, in a remembered directory or a changed one', async () => {
    await sandboxUser();
    const { ws, outside } = await sandboxDirs();
    const victim = path.join(outside, 'victim.txt');
    await fs.writeFile(victim, 'original\n');
    await fs.mkdir(path.join(ws, 'sub'));
    await fs.link(victim, path.join(ws, 'sub/hard'));
    await grantRemembered(ws);
    await fs.link(victim, path.join(ws, 'sub/second'));
    await grantToSandbox(ws);

    const after = await fs.stat(victim);
    expect([after.uid, after.gid]).toEqual([0, 0]);
  });
});
