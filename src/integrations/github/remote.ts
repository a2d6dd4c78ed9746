/**
 * git against the GitHub remote, from the orchestrator's repository (never an agent's workspace):
 * push a ticket's branch, fetch the base after a merge. The token reaches git only through this
 * child's environment (`GIT_CONFIG_*` → `http.extraHeader`): never argv, never a config file,
 * never the workspace.
 */
import { GitError, runGit } from '../../workspace/git.js';
import { GithubAuthError, githubToken } from './client.js';
import { remoteUrlOf, type GithubSettings } from '../settings.js';

/** Environment that lets this one git process talk HTTP(S) to the remote with the token. */
function remoteEnv(url: string, env?: NodeJS.ProcessEnv): Record<string, string> {
  const basic = Buffer.from(`x-access-token:${githubToken(env)}`).toString('base64');
  const scheme = new URL(url).protocol.replace(':', '');
  return {
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
    GIT_CONFIG_KEY_1: `protocol.${scheme}.allow`,
    GIT_CONFIG_VALUE_1: 'always',
  };
}

/**
 * Push `commit` — an object of the repository's own store, the commit the gates judged — to
 * `branch` (e.g. `loopwright/app-3`) on the remote; returns the pushed sha. Nothing is read from a
 * workspace, so whatever an agent left there is never what ships.
 */
export async function pushBranch(
  repoPath: string,
  settings: GithubSettings,
  branch: string,
  commit: string,
  env?: NodeJS.ProcessEnv,
): Promise<string> {
  const url = remoteUrlOf(settings);
  const sha = (
    await runGit(repoPath, ['rev-parse', '--verify', `${commit}^{commit}`])
  ).stdout.trim();
  await remoteGit(
    repoPath,
    url,
    ['push', '--quiet', '--force', url, `${sha}:refs/heads/${branch}`],
    env,
  );
  return sha;
}

/** git against the remote; an authentication failure becomes a {@link GithubAuthError}. */
async function remoteGit(
  repoPath: string,
  url: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<void> {
  try {
    await runGit(repoPath, args, { env: remoteEnv(url, env), timeoutMs: 120_000 });
  } catch (error) {
    if (error instanceof GitError && GIT_AUTH_FAILURE.test(error.stderr))
      throw new GithubAuthError(refusal(args[0]!, url, error.stderr), { cause: error });
    throw error;
  }
}

const GIT_AUTH_FAILURE = new RegExp(
  [
    'authentication failed',
    'could not read username',
    'error: 40[13]',
    'permission to .* denied',
  ].join('|'),
  'i',
);

function refusal(verb: string, url: string, stderr: string): string {
  const last = stderr.trim().split('\n').at(-1)?.slice(0, 300) ?? '';
  return `git ${verb} to ${url} was refused: ${last}`;
}

/**
 * Bring the remote base (which now holds the PR's merge commit) into the repository: the commit is
 * fetched, and the local base fast-forwards to it when it has not diverged.
 */
export async function fetchMergedBase(
  repoPath: string,
  settings: GithubSettings,
  baseBranch: string,
  commit: string,
  env?: NodeJS.ProcessEnv,
): Promise<void> {
  const url = remoteUrlOf(settings);
  const tracking = `refs/loopwright/github/${baseBranch}`;
  await remoteGit(
    repoPath,
    url,
    ['fetch', '--quiet', '--no-tags', url, `+refs/heads/${baseBranch}:${tracking}`],
    env,
  );
  await runGit(repoPath, ['cat-file', '-e', `${commit}^{commit}`]);
  const local = (await runGit(repoPath, ['rev-parse', `refs/heads/${baseBranch}`])).stdout.trim();
  const ff = await runGit(repoPath, ['merge-base', '--is-ancestor', local, commit], {
    okExitCodes: [0, 1],
  });
  if (ff.exitCode === 0 && local !== commit)
    await runGit(repoPath, ['update-ref', `refs/heads/${baseBranch}`, commit, local]);
}
