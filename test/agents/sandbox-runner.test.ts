/**
 * The one process-group runner with the sandbox on, against real bwrap: who the process runs as,
 * what it sees and may write, its private HOME and /tmp, and that a timeout leaves nothing alive.
 */
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/config/package-root.js';
import { describe, expect, it } from 'vitest';
import { runProcessGroup } from '../../src/agents/spawn-group.js';
import {
  detectSandbox,
  SANDBOX_USER_NAME,
  settleScratchRemovals,
} from '../../src/agents/sandbox/index.js';
import { inSandbox, processesWithEnv, sandboxDirs } from '../helpers/sandbox.js';

const asRoot = process.getuid?.() === 0;

describe('sandboxed runner', () => {
  it('detects a working bwrap (the suite needs it: .ci/run installs bubblewrap)', async () => {
    const status = await detectSandbox();
    expect(status).toMatchObject({ available: true });
    if (asRoot) expect(status.user?.name).toBe(SANDBOX_USER_NAME);
    if (asRoot) expect(status.user?.uid).not.toBe(0);
  });

  it('runs as the sandbox user with a private HOME, /tmp and process table', async () => {
    const { ws } = await sandboxDirs();
    const r = await inSandbox(
      'id -u; echo "$HOME"; git config --global user.name; echo $(ls /tmp); ls /proc | ' +
        'grep -c "^[0-9]"',
      ws,
    );
    expect(r.output).toContain('loopwright agent');
    const [uid, home, , tmpList] = r.output.split('\n');
    if (asRoot) expect(uid).not.toBe('0');
    expect(home).toBe('/tmp/home');
    // Only the private HOME, plus what is bound there on purpose: the workspace, and loopwright's
    // own package (read-only) when they live under /tmp, and the empty mount point that hides the
    // orchestrator's HOME when that lives under /tmp.
    const top = (p: string) => path.relative('/tmp', p).split(path.sep)[0]!;
    const bound = [ws, packageRoot(), os.homedir()].filter((p) => p.startsWith('/tmp/')).map(top);
    const expected = [...new Set(['home', ...bound])].sort();
    expect(tmpList!.split(' ').sort()).toEqual(expected);
    // sh, the pipeline and bwrap's init: a handful, never the host's hundreds.
    const visible = Number(r.output.trim().split('\n').at(-1));
    expect(visible).toBeLessThan(10);
    expect(r.exitCode).toBe(0);
  });

  it('gives each run a private /tmp and HOME of its own, removed after the run', async () => {
    const { ws } = await sandboxDirs();
    const marker = `lw-left-${process.pid}-${Date.now()}`;
    const leave = `echo x > /tmp/${marker}; echo y > "$HOME/${marker}"; ls /tmp/${marker}`;
    const first = await inSandbox(leave, ws);
    const second = await inSandbox(`ls /tmp/${marker} "$HOME/${marker}" 2>&1 || echo gone`, ws);
    expect(first.output).toBe(`/tmp/${marker}\n`);
    expect(second.output).toContain('gone');
    await settleScratchRemovals();
    // Nothing of either run is left in the host's temporary directory.
    const left = (await readdir(os.tmpdir()))
      .filter((name) => name.startsWith('loopwright-sbx-'))
      .filter((name) => existsSync(path.join(os.tmpdir(), name, marker)));
    expect(left).toEqual([]);
  });

  it('writes the workspace but not a read-only tree inside it, and nothing outside', async () => {
    const { ws, outside } = await sandboxDirs();
    const git = path.join(ws, '.git');
    await import('node:fs/promises').then((fs) => fs.mkdir(git));
    const r = await inSandbox(
      `echo ok > ok.txt; (echo x > .git/x) 2>/dev/null || echo ro-refused; (echo y ` +
        `> ${outside}/y) 2>/dev/null || echo outside-refused`,
      ws,
      { spec: { readOnly: [git] } },
    );
    expect(r.output).toBe('ro-refused\noutside-refused\n');
    expect(await readFile(path.join(ws, 'ok.txt'), 'utf8')).toBe('ok\n');
    await expect(lstat(path.join(git, 'x'))).rejects.toThrow();
    await expect(lstat(path.join(outside, 'y'))).rejects.toThrow();
  });

  it('hides LOOPWRIGHT_HOME, HOME and spec.hide but shows a workspace below them', async () => {
    const { ws, tmp } = await sandboxDirs();
    const secret = path.join(tmp, 'secret.txt');
    await writeFile(secret, 'TOPSECRET');
    const r = await inSandbox(
      `cat ${secret} 2>&1; ls -A ${os.homedir()} | grep -v '^\\.' ; ls ${ws} >/dev/null && ` +
        `echo ws-visible`,
      ws,
      { spec: { hide: [tmp] } },
    );
    expect(r.output).not.toContain('TOPSECRET');
    expect(r.output).toContain('ws-visible');
  });

  it('refuses a read-only path redirected by a workspace symlink, before starting', async () => {
    const { ws, outside } = await sandboxDirs();
    await symlink(outside, path.join(ws, '.git'));
    await expect(
      inSandbox('true', ws, { spec: { readOnly: [path.join(ws, '.git')] } }),
    ).rejects.toThrow(/symlink inside a writable tree/);
  });

  it('kills a setsid, double-forked daemon when the run times out', async () => {
    const { ws } = await sandboxDirs();
    const marker = `LW_SBX_DAEMON=${process.pid}-${Date.now()}`;
    const result = await runProcessGroup({
      argv: ['/bin/sh', '-c', 'setsid sh -c \'sh -c "sleep 300" &\' ; sleep 300'],
      cwd: ws,
      env: { PATH: '/usr/bin:/bin', [marker.split('=')[0]!]: marker.split('=')[1]! },
      timeoutMs: 800,
      maxOutputBytes: 1 << 16,
      killGraceMs: 300,
      sandbox: { mode: 'bwrap', writable: [ws] },
    });
    expect(result.ending).toBe('timeout');
    expect(processesWithEnv(marker)).toEqual([]);
  });
});
