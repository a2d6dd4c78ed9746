/**
 * `repo add` flags for the integrations: which GitHub repository a repo ships through, and which
 * Linear team (and labels) map to it. Validated here, one clear error per bad flag.
 */
import { BadInputError } from '../errors.js';
import {
  githubSettingsSchema,
  linearSettingsSchema,
  type GithubSettings,
  type LinearSettings,
} from './settings.js';

export const INTEGRATION_FLAGS = {
  github: { type: 'string' },
  'github-api-url': { type: 'string' },
  'github-remote': { type: 'string' },
  'github-events': { type: 'string' },
  'github-poll-seconds': { type: 'string' },
  'linear-team': { type: 'string' },
  'linear-label': { type: 'string', multiple: true },
} as const;

export interface IntegrationFlagValues {
  readonly github?: string | undefined;
  readonly 'github-api-url'?: string | undefined;
  readonly 'github-remote'?: string | undefined;
  readonly 'github-events'?: string | undefined;
  readonly 'github-poll-seconds'?: string | undefined;
  readonly 'linear-team'?: string | undefined;
  readonly 'linear-label'?: string[] | undefined;
}

export const INTEGRATION_USAGE = `\
  --github OWNER/NAME     ship through GitHub pull requests instead of a local merge
  --github-api-url URL    REST API root (GitHub Enterprise); default https://api.github.com
  --github-remote URL     where ticket branches are pushed; \
default https://github.com/OWNER/NAME.git
  --github-events MODE    webhook (signed deliveries to run --webhook-port, no polling) or poll
                          (default: poll, with ETags and backoff)
  --github-poll-seconds N seconds between polls of a waiting PR (default 60)
  --linear-team KEY       Linear issues of this team become this repo's tickets
  --linear-label L        ... or only those with this label (repeatable)`;

/**
 * The github/linear settings the flags ask for, on top of `current` (repo set changes one field
 * of an existing GitHub setting; repo add starts from nothing).
 */
export function integrationSettingsFromFlags(
  v: IntegrationFlagValues,
  current: { github?: object; linear?: object } = {},
): {
  github?: GithubSettings;
  linear?: LinearSettings;
} {
  const out: { github?: GithubSettings; linear?: LinearSettings } = {};
  const githubOnly = [
    'github-api-url',
    'github-remote',
    'github-events',
    'github-poll-seconds',
  ] as const;
  if (!v.github && !current.github && githubOnly.some((k) => v[k] !== undefined))
    throw new BadInputError(
      '--github-api-url/--github-remote/--github-events need --github OWNER/NAME',
    );
  if (v.github || (current.github && githubOnly.some((k) => v[k] !== undefined))) {
    const parsed = githubSettingsSchema.safeParse({
      ...current.github,
      ...(v.github ? { repository: v.github } : {}),
      ...(v['github-api-url'] ? { apiUrl: v['github-api-url'] } : {}),
      ...(v['github-remote'] ? { remoteUrl: v['github-remote'] } : {}),
      ...(v['github-events'] ? { events: v['github-events'] } : {}),
      ...(v['github-poll-seconds'] ? { pollSeconds: Number(v['github-poll-seconds']) } : {}),
    });
    if (!parsed.success) throw new BadInputError(`--github: ${flagIssue(parsed.error.issues[0])}`);
    out.github = parsed.data;
  }
  if (v['linear-label']?.length && !v['linear-team'] && !current.linear)
    throw new BadInputError('--linear-label needs --linear-team KEY');
  if (v['linear-team'] || (current.linear && v['linear-label']?.length)) {
    const parsed = linearSettingsSchema.safeParse({
      ...current.linear,
      ...(v['linear-team'] ? { team: v['linear-team'] } : {}),
      ...(v['linear-label'] ? { labels: v['linear-label'] } : {}),
    });
    if (!parsed.success)
      throw new BadInputError(`--linear-team: ${flagIssue(parsed.error.issues[0])}`);
    out.linear = parsed.data;
  }
  return out;
}

function flagIssue(issue: { path: PropertyKey[]; message: string } | undefined): string {
  if (!issue) return 'invalid';
  return `${issue.path.map(String).join('.') || 'value'} ${issue.message}`;
}
