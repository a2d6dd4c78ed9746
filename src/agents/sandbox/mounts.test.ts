import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBwrapArgs } from './bwrap-argv.js';
import { planMounts } from './mounts.js';
import { parseSandboxSpec, SandboxSpecError } from './spec.js';

const roots: string[] = [];
afterEach(() => {
  for (const dir of roots.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** `<tmp>/{home/{.loopwright/{db,worktrees/t1/.git}},repo,other}`, realpath'd. */
function tree() {
  const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'lw-mounts-')));
  roots.push(root);
  const home = path.join(root, 'home');
  const lw = path.join(home, '.loopwright');
  const ws = path.join(lw, 'worktrees', 't1');
  for (const dir of [path.join(lw, 'db'), path.join(ws, '.git'), path.join(root, 'repo')])
    mkdirSync(dir, { recursive: true });
  return { root, home, lw, ws, db: path.join(lw, 'db'), repo: path.join(root, 'repo') };
}

describe('planMounts', () => {
  it('orders parents before children whatever the input order; read-only wins at a path', () => {
    const t = tree();
    const mounts = planMounts(
      { mode: 'bwrap', writable: [t.ws], readOnly: [path.join(t.ws, '.git')], hide: [t.repo] },
      { soft: [t.lw, t.home], protected: [t.db] },
    );
    expect(mounts).toEqual(
      [
        { kind: 'hide', path: t.home },
        { kind: 'writable', path: t.ws },
        { kind: 'readOnly', path: path.join(t.ws, '.git') },
        { kind: 'hide', path: t.repo },
      ].sort((a, b) => a.path.split('/').length - b.path.split('/').length || 0),
    );
    // nested hides (.loopwright and its db inside the hidden home) are collapsed into the home's
    expect(mounts.some((m) => m.path === t.lw || m.path === t.db)).toBe(false);
  });

  it('keeps a protected hide below a writable tree that contains it', () => {
    const t = tree();
    const mounts = planMounts({ mode: 'bwrap', writable: [t.lw] }, { soft: [], protected: [t.db] });
    expect(mounts).toEqual([
      { kind: 'writable', path: t.lw },
      { kind: 'hide', path: t.db },
    ]);
  });

  it('refuses to bind anything inside a protected tree, a missing or root writable tree', () => {
    const t = tree();
    const defaults = { soft: [], protected: [t.lw] };
    expect(() => planMounts({ mode: 'bwrap', writable: [t.ws] }, defaults)).toThrow(
      SandboxSpecError,
    );
    expect(() =>
      planMounts(
        { mode: 'bwrap', writable: [path.join(t.root, 'missing')] },
        { soft: [], protected: [] },
      ),
    ).toThrow(/does not exist/);
    expect(() =>
      planMounts({ mode: 'bwrap', writable: ['/'] }, { soft: [], protected: [] }),
    ).toThrow(/root directory/);
    expect(() => parseSandboxSpec({ mode: 'bwrap', writable: ['relative'] })).toThrow(/absolute/);
  });

  it('refuses a read-only or hidden path that a symlink in the writable tree redirects', () => {
    const t = tree();
    symlinkSync(t.repo, path.join(t.ws, 'cfg'));
    for (const spec of [{ readOnly: [path.join(t.ws, 'cfg')] }, { hide: [path.join(t.ws, 'cfg')] }])
      expect(() =>
        planMounts({ mode: 'bwrap', writable: [t.ws], ...spec }, { soft: [], protected: [] }),
      ).toThrow(/redirected by a symlink/);
  });

  it('shows program trees read-only below a hidden home', () => {
    const t = tree();
    const program = path.join(t.home, 'src', 'loopwright');
    mkdirSync(program, { recursive: true });
    const mounts = planMounts(
      { mode: 'bwrap', writable: [t.ws] },
      { soft: [t.home], protected: [], show: [program] },
    );
    expect(mounts).toContainEqual({ kind: 'readOnly', path: program });
  });
});

describe('buildBwrapArgs', () => {
  it('clears the environment, points HOME into the private /tmp and switches uid as root', () => {
    const { options, command } = buildBwrapArgs({
      bwrap: '/usr/bin/bwrap',
      setpriv: '/usr/bin/setpriv',
      user: { name: 'loopwright-agent', uid: 999, gid: 995 },
      scratchDir: '/tmp/loopwright-sbx-x',
      mounts: [{ kind: 'writable', path: '/srv/ws/t1' }],
      env: { PATH: '/usr/bin', HOME: '/root', 'BAD=NAME': 'x' },
      cwd: '/srv/ws/t1',
      argv: ['sh', '-c', 'true'],
    });
    const joined = options.join(' ');
    expect(joined).toMatch(
      /--new-session --die-with-parent --unshare-pid --unshare-ipc --unshare-uts/,
    );
    expect(joined).toContain('--clearenv --setenv PATH /usr/bin --setenv HOME /tmp/home');
    expect(joined).not.toContain('/root');
    expect(joined).not.toContain('BAD=NAME');
    expect(joined).toContain('--bind /srv/ws/t1 /srv/ws/t1');
    expect(joined).toContain('--chdir /srv/ws/t1');
    expect(command).toEqual([
      '--',
      '/usr/bin/setpriv',
      '--reuid=999',
      '--regid=995',
      '--clear-groups',
      '--no-new-privs',
      '--inh-caps=-all',
      '--',
      'sh',
      '-c',
      'true',
    ]);
    expect(options).not.toContain('--unshare-user');
  });
});
