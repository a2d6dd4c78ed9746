/**
 * Attack: a sandboxed agent tries to write outside its workspace — `..`, absolute paths, a
 * symlink planted in the workspace pointing out, hard links, the read-only `.git` — and to make
 * the orchestrator's next grant change files outside. Every attempt must leave the outside as it
 * was.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { grantToSandbox } from '../../src/agents/sandbox/index.js';
import { inSandbox, sandboxDirs } from '../helpers/sandbox.js';

async function snapshot(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true });
  const rows: string[] = [];
  for (const entry of entries.sort()) {
    const stat = await fs.lstat(path.join(dir, entry));
    const content = stat.isFile() ? await fs.readFile(path.join(dir, entry), 'utf8') : '';
    rows.push(`${entry} ${stat.uid}:${stat.gid} ${stat.mode.toString(8)} ${content}`);
  }
  return rows;
}

describe('a sandboxed agent writing outside its workspace', () => {
  it('cannot write through .., absolute paths, symlinks or hard links, nor into .git', async () => {
    const { ws, outside, tmp } = await sandboxDirs();
    const victim = path.join(outside, 'victim.txt');
    await fs.writeFile(victim, 'original\n', { mode: 0o666 });
    await fs.mkdir(path.join(ws, '.git'));
    await fs.writeFile(path.join(ws, '.git', 'config'), '[core]\n');
    const before = await snapshot(tmp);
    const attacks = [
      `echo pwned > ../outside/victim.txt`,
      `echo pwned > ${victim}`,
      `echo pwned > ${tmp}/new-file`,
      `ln -s ${outside} escape && echo pwned > escape/victim.txt`,
      `ln -s ${victim} link.txt && echo pwned > link.txt`,
      `ln ${victim} hard.txt && echo pwned > hard.txt`,
      `echo '[core] fsmonitor = evil' >> .git/config`,
      `mkdir -p /tmp/x && echo pwned > /tmp/x/y && ls ${tmp}`,
      `echo pwned > /etc/loopwright-pwned`,
      `echo pwned > /var/tmp/loopwright-pwned`,
      `echo pwned > /dev/shm/loopwright-pwned`,
    ];
    const r = await inSandbox(attacks.map((a) => `(${a}) 2>/dev/null; true`).join('; '), ws, {
      spec: { readOnly: [path.join(ws, '.git'), outside] },
    });
    expect(r.exitCode).toBe(0);
    const after = await snapshot(tmp);
    // Only the workspace changed (the two links the agent made in it), nothing outside it.
    expect(after.filter((row) => !row.startsWith('ws/'))).toEqual(
      before.filter((row) => !row.startsWith('ws/')),
    );
    expect(await fs.readFile(victim, 'utf8')).toBe('original\n');
    expect(await fs.readFile(path.join(ws, '.git', 'config'), 'utf8')).toBe('[core]\n');
    for (const p of [
      '/etc/loopwright-pwned',
      '/var/tmp/loopwright-pwned',
      '/dev/shm/loopwright-pwned',
    ])
      await expect(fs.lstat(p)).rejects.toThrow();
  });

  it('a planted symlink or hard link does not make the next grant chown outside', async () => {
    const { ws, outside } = await sandboxDirs();
    const victim = path.join(outside, 'victim.txt');
    await fs.writeFile(victim, 'original\n');
    await fs.mkdir(path.join(ws, 'sub'));
    await fs.symlink(victim, path.join(ws, 'sub', 'link'));
    await fs.symlink(outside, path.join(ws, 'dirlink'));
    await fs.link(victim, path.join(ws, 'hard'));
    const before = await fs.stat(victim);
    await grantToSandbox(ws);
    const after = await fs.stat(victim);
    expect([after.uid, after.gid]).toEqual([before.uid, before.gid]);
    expect((await fs.stat(outside)).uid).toBe(before.uid);
  });
});
