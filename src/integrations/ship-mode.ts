/**
 * How a repository's tickets ship and hear back, for `status`: `webhook` (a GitHub PR; signed
 * deliveries wake the waiting ticket, nothing polls), `polling` (a GitHub PR read with ETags and
 * backoff every `pollSeconds`), or `local` (merged in the repository, no GitHub). Read from the
 * stored settings without validating them again, so `status` imports nothing heavy.
 */

export type ShipMode = 'webhook' | 'polling' | 'local';

export interface RepoShipMode {
  readonly repo: string;
  readonly mode: ShipMode;
  /** `owner/name` on GitHub, or null for a local repository. */
  readonly github: string | null;
  /** Seconds between polls of a waiting PR (polling only). */
  readonly pollSeconds: number | null;
}

const DEFAULT_POLL_SECONDS = 60;

/** The ship mode of one repository row (`settings` as stored: JSON text or an object). */
export function shipModeOf(repo: { name: string; settings: unknown }): RepoShipMode {
  let settings = repo.settings;
  if (typeof settings === 'string') {
    try {
      settings = JSON.parse(settings);
    } catch {
      settings = {};
    }
  }
  const github = (settings as { github?: { repository?: unknown; events?: unknown } } | null)
    ?.github;
  if (!github || typeof github.repository !== 'string')
    return { repo: repo.name, mode: 'local', github: null, pollSeconds: null };
  if (github.events === 'webhook')
    return { repo: repo.name, mode: 'webhook', github: github.repository, pollSeconds: null };
  const poll = (github as { pollSeconds?: unknown }).pollSeconds;
  return {
    repo: repo.name,
    mode: 'polling',
    github: github.repository,
    pollSeconds: typeof poll === 'number' ? poll : DEFAULT_POLL_SECONDS,
  };
}

/** One human line per repository. */
export function describeShipMode(m: RepoShipMode): string {
  if (m.mode === 'webhook')
    return `${m.repo}: webhook — PRs on ${m.github}; signed deliveries wake waiting tickets`;
  if (m.mode === 'polling')
    return `${m.repo}: polling — PRs on ${m.github} read every ${m.pollSeconds}s (ETags, backoff)`;
  return `${m.repo}: local — merged in the repository`;
}
