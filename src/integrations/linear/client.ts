/**
 * The Linear API client: the real `@linear/sdk`, with the key read here (LINEAR_API_KEY or
 * LINEAR_API_KEY_FILE) and the endpoint from LINEAR_API_URL (an https URL, or http on a loopback
 * host for a local twin — the SDK refuses other http URLs).
 */
import type { LinearClient } from '@linear/sdk';
import { requireSecret } from '../credentials.js';

/** A client; `@linear/sdk` is loaded with the first one, not with every `loopwright run`. */
export async function createLinear(env: NodeJS.ProcessEnv = process.env): Promise<LinearClient> {
  const apiUrl = env.LINEAR_API_URL?.trim();
  const { LinearClient } = await import('@linear/sdk');
  return new LinearClient({
    apiKey: requireSecret('LINEAR_API_KEY', env),
    ...(apiUrl ? { apiUrl } : {}),
  });
}
