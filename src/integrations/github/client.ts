/**
 * The GitHub API client: the real `@octokit/rest`, authenticated with the orchestrator's token
 * (read here, never stored), pointed at `apiUrl` (GitHub, Enterprise or a twin), with rate limits
 * honoured: a 403/429 carrying `retry-after` (secondary limits) or an exhausted primary limit waits
 * and retries the same request, a few times, before failing the job (which graphile-worker
 * retries).
 */
import type { Octokit } from '@octokit/rest';
import type { Logger } from 'pino';
import { LoopwrightError } from '../../errors.js';
import { requireSecret, readSecret } from '../credentials.js';
import { DEFAULT_GITHUB_API, type GithubSettings } from '../settings.js';

/** Longest single wait for a rate limit inside one request; longer ones fail the attempt. */
const MAX_WAIT_MS = 60_000;
const MAX_RETRIES = 3;

export type Github = InstanceType<typeof Octokit>;

export interface GithubClientOptions {
  readonly settings: GithubSettings;
  readonly logger?: Logger;
  readonly env?: NodeJS.ProcessEnv;
}

/** The GitHub token: GITHUB_TOKEN (or GH_TOKEN), or the file named by GITHUB_TOKEN_FILE. */
export function githubToken(env: NodeJS.ProcessEnv = process.env): string {
  return readSecret('GH_TOKEN', env) ?? requireSecret('GITHUB_TOKEN', env);
}

/**
 * A client for `o.settings`. `@octokit/rest` is loaded with the first client, so a `loopwright run`
 * without GitHub settings never holds it (a smaller process forks its agents faster).
 */
export async function createGithub(o: GithubClientOptions): Promise<Github> {
  const { Octokit } = await import('@octokit/rest');
  const octokit = new Octokit({
    auth: githubToken(o.env),
    baseUrl: (o.settings.apiUrl ?? DEFAULT_GITHUB_API).replace(/\/$/, ''),
    userAgent: 'loopwright',
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
  octokit.hook.wrap('request', async (request, options) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await request(options);
      } catch (error) {
        const wait = rateLimitWait(error);
        if (wait === null || attempt >= MAX_RETRIES || wait > MAX_WAIT_MS) throw error;
        o.logger?.warn(
          { status: (error as { status?: number }).status, waitMs: wait, route: options.url },
          'GitHub rate limit; waiting',
        );
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  });
  return octokit;
}

/**
 * How long a rate-limited response asks us to wait, or null when the error is not a rate limit.
 * Secondary limits: 403 or 429 with `retry-after` seconds; primary: `x-ratelimit-remaining: 0`
 * with `x-ratelimit-reset` (epoch seconds).
 */
export function rateLimitWait(error: unknown): number | null {
  const e = error as { status?: number; response?: { headers?: Record<string, string> } };
  if (e.status !== 403 && e.status !== 429) return null;
  const headers = e.response?.headers ?? {};
  const retryAfter = Number(headers['retry-after']);
  if (Number.isFinite(retryAfter) && retryAfter >= 0) return Math.max(retryAfter, 1) * 1000;
  if (headers['x-ratelimit-remaining'] === '0') {
    const reset = Number(headers['x-ratelimit-reset']) * 1000;
    return Number.isFinite(reset) ? Math.max(reset - Date.now(), 1000) : 60_000;
  }
  return e.status === 429 ? 60_000 : null;
}

/**
 * GitHub refused the orchestrator's credentials (401, or 403 that is not a rate limit): retrying
 * cannot help, so the ticket escalates at once with this code in its detail.
 */
export class GithubAuthError extends LoopwrightError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GITHUB_UNAUTHORIZED', message, options);
  }
}

/** The auth failure behind `error`, if it is one (git's, or an API 401 / non-rate-limit 403). */
export function authFailure(error: unknown): GithubAuthError | null {
  if (error instanceof GithubAuthError) return error;
  const status = statusOf(error);
  if (status !== 401 && !(status === 403 && rateLimitWait(error) === null)) return null;
  const e = error as { message?: string; request?: { method?: string; url?: string } };
  const route = e.request
    ? ` for ${e.request.method} ${new URL(e.request.url ?? '', 'http://x').pathname}`
    : '';
  return new GithubAuthError(
    `GitHub answered ${status}${route}: ${String(e.message).slice(0, 300)}`,
    {
      cause: error,
    },
  );
}

/** Status of an octokit error (undefined for network errors). */
export function statusOf(error: unknown): number | undefined {
  return (error as { status?: number }).status;
}
