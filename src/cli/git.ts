/**
 * The few git questions the CLI asks about a repository being registered, answered by the real
 * `git` binary. A missing or broken repository is bad input; a missing git is a failure.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { BadInputError, LoopwrightError } from '../errors.js';

interface GitOutput {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `git -C <dir> ...args`; resolves with the outcome, rejects only when git cannot start. */
export function runGit(
  dir: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<GitOutput> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-C', dir, ...args],
      { env, encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(
            new LoopwrightError('GIT_MISSING', 'git not found on PATH; install git', {
              cause: error,
            }),
          );
          return;
        }
        resolve({ ok: !error, stdout: stdout.trim(), stderr: stderr.trim() });
      },
    );
  });
}

/** The absolute top-level directory of the work tree containing `dir`. */
export async function gitTopLevel(dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new BadInputError(`no such directory: ${dir}`);
  const result = await runGit(dir, ['rev-parse', '--show-toplevel'], env);
  if (!result.ok || !result.stdout) {
    const why = result.stderr.split('\n')[0]?.replace(/^fatal:\s*/, '');
    throw new BadInputError(`not a git repository: ${dir}${why ? ` (${why})` : ''}`);
  }
  return result.stdout;
}

/** The branch HEAD points at (`git symbolic-ref --short HEAD`), or null when HEAD is detached. */
export async function currentBranch(top: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  const result = await runGit(top, ['symbolic-ref', '--quiet', '--short', 'HEAD'], env);
  return result.ok && result.stdout ? result.stdout : null;
}

/** True when `refs/heads/<branch>` exists and points at a commit. */
export async function branchExists(
  top: string,
  branch: string,
  env: NodeJS.ProcessEnv,
): Promise<boolean> {
  const result = await runGit(
    top,
    ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`],
    env,
  );
  return result.ok;
}
