/**
 * Per-repository integration settings (inside repositories.settings, validated with the rest by
 * src/config/repo-settings.ts): the GitHub repository a repo ships through and the Linear team or
 * labels whose issues become its tickets. No secret is ever stored here.
 */
import { z } from 'zod';

const ownerName = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

export const githubSettingsSchema = z.strictObject({
  /** `owner/name` of the GitHub repository. */
  repository: z.string().regex(ownerName, 'must be owner/name'),
  /** REST API root (GitHub Enterprise or a test twin); default https://api.github.com. */
  apiUrl: z.url().optional(),
  /** Where the ticket branch is pushed; default https://github.com/<owner>/<name>.git. */
  remoteUrl: z.url().optional(),
  /** How review outcomes arrive: signed webhooks (no polling) or the polling fallback. */
  events: z.enum(['webhook', 'poll']).default('poll'),
  /** Seconds between polls of one waiting PR (the fallback backs off from here on errors). */
  pollSeconds: z.number().int().min(1).max(3600).default(60),
});
export type GithubSettings = z.infer<typeof githubSettingsSchema>;

/** Linear workflow state names each phase is reflected as. */
export const linearStatesSchema = z
  .strictObject({
    started: z.string().min(1).default('In Progress'),
    review: z.string().min(1).default('In Review'),
    done: z.string().min(1).default('Done'),
    cancelled: z.string().min(1).default('Canceled'),
  })
  .default({ started: 'In Progress', review: 'In Review', done: 'Done', cancelled: 'Canceled' });

export const linearSettingsSchema = z.strictObject({
  /** The team key (e.g. ENG) whose issues map to this repository. */
  team: z.string().regex(/^[A-Za-z0-9]{1,10}$/, 'must be a Linear team key'),
  /** Issues with one of these labels map here (more specific than the team). */
  labels: z.array(z.string().min(1).max(100)).max(50).default([]),
  states: linearStatesSchema,
});
export type LinearSettings = z.infer<typeof linearSettingsSchema>;

export const DEFAULT_GITHUB_API = 'https://api.github.com';

export function remoteUrlOf(s: GithubSettings): string {
  return s.remoteUrl ?? `https://github.com/${s.repository}.git`;
}

export function splitRepository(s: GithubSettings): { owner: string; repo: string } {
  const [owner, repo] = s.repository.split('/') as [string, string];
  return { owner, repo };
}
