/**
 * Attacks on the one git runner (src/workspace/git.ts): config, hooks, attributes and environment
 * an
 * agent could plant in a repository it can write. None may make the orchestrator's git run a
 * program, read a credential from the environment, or operate on another repository.
 */
import { access, chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GitMissingError, git, runGit } from '../../src/workspace/git.js';
import { tempDir } from '../workspace/helpers.js';

/** A repository with one commit and a script that, if anything runs it, creates `marker`. */
async function trapRepo(): Promise<{ repo: string; script: string; marker: string }> {
  const tmp = await tempDir('lw-gitattack-');
  const repo = path.join(tmp, 'repo');
  const marker = path.join(tmp, 'PWNED');
  const script = path.join(tmp, 'evil.sh');
  await writeFile(script, `#!/bin/sh\necho "$0 $*" >> ${marker}\ncat\n`);
  await chmod(script, 0o755);
  await mkdir(repo);
  await git(repo, ['init', '-q', '-b', 'main']);
  await writeFile(path.join(repo, 'a.txt'), 'one\n');
  await git(repo, ['add', 'a.txt']);
  await git(repo, ['commit', '-q', '-m', 'one']);
  return { repo, script, marker };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

async function config(repo: string, key: string, value: string): Promise<void> {
  // Written with plain `git config`, as an agent would: the runner's overrides must still win.
  await git(repo, ['config', key, value]);
}

describe('the hardened git runner', () => {
  it('runs no hook: pre-commit, post-checkout, reference-transaction, core.hooksPath', async () => {
    const { repo, script, marker } = await trapRepo();
    for (const hook of ['pre-commit', 'post-commit', 'post-checkout', 'reference-transaction']) {
      await writeFile(path.join(repo, '.git', 'hooks', hook), `#!/bin/sh\n${script} ${hook}\n`);
      await chmod(path.join(repo, '.git', 'hooks', hook), 0o755);
    }
    const hooksDir = path.join(repo, 'myhooks');
    await mkdir(hooksDir);
    await writeFile(path.join(hooksDir, 'pre-commit'), `#!/bin/sh\n${script} hooksPath\n`);
    await chmod(path.join(hooksDir, 'pre-commit'), 0o755);
    await config(repo, 'core.hooksPath', hooksDir);

    await writeFile(path.join(repo, 'a.txt'), 'two\n');
    await git(repo, ['commit', '-q', '-am', 'two']);
    await git(repo, ['checkout', '-q', '-b', 'side']);
    await git(repo, ['update-ref', 'refs/heads/x', 'HEAD']);
    expect(await exists(marker)).toBe(false);
  });

  it('runs no fsmonitor, pager, external diff or textconv, even via include.path', async () => {
    const { repo, script, marker } = await trapRepo();
    const included = path.join(repo, '..', 'included.cfg');
    await writeFile(
      included,
      `[core]\n\tfsmonitor = ${script}\n\tpager = ${script}\n[diff]\n\texternal = ${script}\n`,
    );
    await config(repo, 'include.path', included);
    await config(repo, 'diff.evil.textconv', script);
    await writeFile(path.join(repo, '.gitattributes'), '* diff=evil\n');
    await writeFile(path.join(repo, 'a.txt'), 'changed\n');

    await git(repo, ['status', '--porcelain']);
    await git(repo, ['diff']);
    await git(repo, ['diff', 'HEAD']);
    await git(repo, ['add', '-A']);
    await git(repo, ['commit', '-q', '-m', 'x']);
    await git(repo, ['log', '-p', '-1']);
    await git(repo, ['show', 'HEAD']);
    expect(await exists(marker)).toBe(false);
  });

  it('uses no network transport and no core.sshCommand / credential helper', async () => {
    const { repo, script, marker } = await trapRepo();
    await config(repo, 'core.sshCommand', script);
    await config(repo, 'credential.helper', `!${script}`);
    await config(repo, 'remote.evil.url', 'ssh://attacker.invalid/x.git');
    const ssh = await runGit(repo, ['fetch', 'evil'], { okExitCodes: [0, 1, 128] });
    expect(ssh.exitCode).not.toBe(0);
    expect(ssh.stderr).toMatch(/transport 'ssh' not allowed/);
    const ext = await runGit(repo, ['fetch', `ext::${script} %S`], { okExitCodes: [0, 1, 128] });
    expect(ext.exitCode).not.toBe(0);
    expect(await exists(marker)).toBe(false);
  });

  it('reads no global or system config from HOME', async () => {
    const { repo, script, marker } = await trapRepo();
    const home = await tempDir('lw-home-');
    await writeFile(
      path.join(home, '.gitconfig'),
      `[core]\n\tfsmonitor = ${script}\n[user]\n\tname = attacker\n`,
    );
    await writeFile(path.join(repo, 'a.txt'), 'changed\n');
    await git(repo, ['status'], { baseEnv: { ...process.env, HOME: home } });
    await git(repo, ['commit', '-q', '-am', 'c'], { baseEnv: { ...process.env, HOME: home } });
    expect(await exists(marker)).toBe(false);
    expect(await git(repo, ['log', '-1', '--format=%an'])).toBe('loopwright');
  });

  it('passes no credential and no caller GIT_* variable to git', async () => {
    const { repo } = await trapRepo();
    const elsewhere = await trapRepo();
    const baseEnv = {
      ...process.env,
      GITHUB_TOKEN: 'ghp_planted_secret',
      LOOPWRIGHT_DATABASE_URL: 'postgres://u:planted@h/db',
      GIT_DIR: path.join(elsewhere.repo, '.git'),
      GIT_CONFIG_PARAMETERS: `'core.fsmonitor'='${elsewhere.script}'`,
    };
    // An alias the *caller* defines on its own command line is the one way to see git's env.
    const out = await git(repo, ['-c', 'alias.envdump=!env', 'envdump'], { baseEnv });
    expect(out).not.toContain('planted');
    expect(out).not.toContain(elsewhere.repo);
    expect(out).toContain('GIT_CONFIG_NOSYSTEM=1');
    expect(await git(repo, ['rev-parse', '--absolute-git-dir'], { baseEnv })).toBe(
      path.join(repo, '.git'),
    );
    expect(await exists(elsewhere.marker)).toBe(false);
  });

  it('with an explicit gitDir ignores a `.git` file that points elsewhere', async () => {
    const { repo } = await trapRepo();
    const gitDir = path.join(repo, '.git');
    const work = await tempDir('lw-work-');
    await writeFile(path.join(work, '.git'), 'gitdir: /nonexistent\n');
    const head = await git(work, ['rev-parse', 'HEAD'], { gitDir, workTree: work });
    expect(head).toBe(await git(repo, ['rev-parse', 'HEAD']));
    const discovered = await runGit(work, ['rev-parse', 'HEAD'], { okExitCodes: [0, 128] });
    expect(discovered.exitCode).toBe(128);
  });

  it('says git is missing in one line when it is not on PATH', async () => {
    const { repo } = await trapRepo();
    await expect(
      runGit(repo, ['status'], { baseEnv: { PATH: '/nonexistent' } }),
    ).rejects.toBeInstanceOf(GitMissingError);
  });
});
