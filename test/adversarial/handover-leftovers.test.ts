/**
 * The handover directory is rewritten in place between runs (only files whose bytes differ are
 * written), and the last agent had that directory: whatever it bent there — a symlink or a hard
 * link where a handover file was, a directory under a file's name, other permissions, files of
 * its own, the directory itself swapped for a link — must neither be written through nor survive.
 * The next agent finds exactly the handover, as if written afresh.
 */
import {
  chmod,
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Handover, writeHandover } from '../../src/phases/handover.js';
import { tempDir } from '../workspace/helpers.js';

const plan = {
  goal: 'g',
  allowedFiles: ['src/a.js'],
  testFiles: ['test/a.test.js'],
  acceptanceCriteria: [{ name: 'a', test: 'a' }],
};

const critique: Handover = {
  ticketKey: 'T-1',
  title: 't',
  body: 'b',
  repoName: 'r',
  role: 'validator',
  phase: 'plan_critique',
  counter: '1 of 5',
  baseCommit: 'a'.repeat(40),
  redCommit: null,
  testCommand: 'npm test',
  checks: [],
  plan,
  planText: null,
  approvedPlanSha: null,
  findings: [],
};

/** Every entry of the handover directory: name, kind, links, mode and content. */
async function picture(dir: string): Promise<string[]> {
  const rows: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const s = await lstat(path.join(dir, name));
    const kind = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
    const body = s.isFile() ? await readFile(path.join(dir, name), 'utf8') : '';
    rows.push(`${name} ${kind} ${s.nlink} ${(s.mode & 0o7777).toString(8)} ${body.length}:${body}`);
  }
  return rows;
}

async function setup() {
  const tmp = await tempDir('lw-handover-');
  const ws = path.join(tmp, 'ws');
  await mkdir(ws);
  const outside = path.join(tmp, 'outside.txt');
  await writeFile(outside, "not the agent's\n");
  return { tmp, ws, dir: path.join(ws, '.loopwright'), outside };
}

describe('the handover over what the last agent left', () => {
  it('writes through no link and keeps nothing bent; the result is a fresh handover', async () => {
    const { tmp, ws, dir, outside } = await setup();
    const fresh = path.join(tmp, 'fresh');
    await mkdir(fresh);
    await writeHandover(fresh, critique);
    const expected = await picture(path.join(fresh, '.loopwright'));

    await writeHandover(ws, critique);
    expect(await picture(dir)).toEqual(expected);
    // The agent's doing:
    await rm(path.join(dir, 'task.md'));
    await symlink(outside, path.join(dir, 'task.md'));
    await rm(path.join(dir, 'charter.md'));
    await link(outside, path.join(dir, 'charter.md'));
    await chmod(path.join(dir, 'report-contract.md'), 0o666);
    await rm(path.join(dir, 'plan-format.md'));
    await mkdir(path.join(dir, 'plan-format.md'));
    await writeFile(path.join(dir, 'plan-format.md', 'x'), 'x');
    await writeFile(path.join(dir, 'report.json'), '{}');
    await writeFile(path.join(dir, 'plan.json'), 'an edited plan, same length?');
    await chmod(dir, 0o700);

    await writeHandover(ws, critique);
    expect(await picture(dir)).toEqual(expected);
    expect(((await lstat(dir)).mode & 0o7777).toString(8)).toBe('755');
    expect(await readFile(outside, 'utf8')).toBe("not the agent's\n");
    expect((await lstat(outside)).nlink).toBe(1);
  });

  it('replaces the directory itself when it became a link, leaving its target alone', async () => {
    const { tmp, ws, dir } = await setup();
    const elsewhere = path.join(tmp, 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(path.join(elsewhere, 'task.md'), 'theirs');
    await symlink(elsewhere, dir);
    await writeHandover(ws, critique);
    expect((await lstat(dir)).isDirectory()).toBe(true);
    expect(await readdir(elsewhere)).toEqual(['task.md']);
    expect(await readFile(path.join(elsewhere, 'task.md'), 'utf8')).toBe('theirs');
    expect(await readFile(path.join(dir, 'task.md'), 'utf8')).toContain('T-1');
  });

  it('rewrites what changed, leaves what did not, and drops what is no longer wanted', async () => {
    const { ws, dir } = await setup();
    await writeHandover(ws, critique);
    const contract = await lstat(path.join(dir, 'report-contract.md'));
    const build: Handover = { ...critique, role: 'generator', phase: 'build', counter: '1 of 3' };
    await writeHandover(ws, build);
    // The same bytes: not written again (same inode, same change time).
    const after = await lstat(path.join(dir, 'report-contract.md'));
    expect([after.ino, after.ctimeMs]).toEqual([contract.ino, contract.ctimeMs]);
    expect(await readFile(path.join(dir, 'charter.md'), 'utf8')).toMatch(/Generator/i);
    expect(await readFile(path.join(dir, 'task.md'), 'utf8')).toContain('| phase | build |');
    // A generator gets no plan-format.md.
    expect((await readdir(dir)).sort()).toEqual(
      ['charter.md', 'plan.json', 'report-contract.md', 'task.md'].sort(),
    );
  });
});
