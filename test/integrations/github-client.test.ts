/**
 * The GitHub client against behaviours any GitHub (or another fake) may show: a PR listing that
 * misses an existing PR, so creating it answers 422 "A pull request already exists" (the PR is
 * found and reused, never duplicated); a refused token, from the API (401) and from git's push,
 * named GITHUB_UNAUTHORIZED without retries.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFailure, createGithub } from '../../src/integrations/github/client.js';
import { findOrCreatePr } from '../../src/integrations/github/pull-request.js';
import { pushBranch } from '../../src/integrations/github/remote.js';
import type { GithubSettings } from '../../src/integrations/settings.js';
import { startGithubTwin, type GithubTwin } from '../twins/github-twin.js';

const TOKEN = 'ghp_client_test_token';
let root: string;
let repo: string;
let twin: GithubTwin;
let settings: GithubSettings;

const git = (cwd: string, args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@x.test', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lw-gh-client-'));
  repo = path.join(root, 'repo');
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  await writeFile(path.join(repo, 'a.txt'), 'a\n');
  git(repo, ['add', '-A']);
  git(repo, ['commit', '-q', '-m', 'a']);
  git(repo, ['branch', 'loopwright/app-1']);
  const bare = path.join(root, 'remote', 'acme', 'app.git');
  execFileSync('git', ['clone', '-q', '--bare', repo, bare]);
  twin = await startGithubTwin({ token: TOKEN, owner: 'acme', repo: 'app', bareRepo: bare });
  settings = {
    repository: 'acme/app',
    apiUrl: twin.url,
    remoteUrl: twin.gitUrl,
    events: 'poll',
    pollSeconds: 60,
  };
});

afterAll(async () => {
  await twin?.close_server();
  await rm(root, { recursive: true, force: true });
});

describe('the GitHub client', () => {
  it('reuses the PR a stale listing missed once creating it answers 422 (exists)', async () => {
    const gh = await createGithub({ settings, env: { GITHUB_TOKEN: TOKEN } });
    const r = { owner: 'acme', repo: 'app' };
    const pr = { head: 'loopwright/app-1', base: 'main', title: 'app-1', body: 'x' };
    const first = await findOrCreatePr(gh, r, pr);
    expect(first).toMatchObject({ number: 1, reused: false });
    // The listing misses it once (a replica lagging behind): create -> 422 -> list again.
    twin.fault({ method: 'GET', path: /\/pulls$/, status: 200, body: [] });
    const second = await findOrCreatePr(gh, r, pr);
    expect(second).toMatchObject({ number: 1, reused: true });
    const creates = twin.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/pulls'));
    expect(creates.map((q) => q.status)).toEqual([201, 422]);
    expect(twin.pulls).toHaveLength(1);
  });

  it('names a refused token GITHUB_UNAUTHORIZED (API and git), asking once', async () => {
    const gh = await createGithub({ settings, env: { GITHUB_TOKEN: 'ghp_wrong' } });
    const before = twin.requests.length;
    const error = await gh.rest.pulls.get({ owner: 'acme', repo: 'app', pull_number: 1 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(authFailure(error)).toMatchObject({
      code: 'GITHUB_UNAUTHORIZED',
      message: expect.stringContaining('401'),
    });
    expect(twin.requests.length - before).toBe(1);
    const push = await pushBranch(repo, settings, 'loopwright/app-1', 'HEAD', {
      GITHUB_TOKEN: 'ghp_wrong',
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(authFailure(push)).toMatchObject({ code: 'GITHUB_UNAUTHORIZED' });
    expect(String((push as Error).message)).not.toContain('ghp_wrong');
  });
});
