/**
 * The Linear API client: the real `@linear/sdk`, with the key read here (LINEAR_API_KEY or
 * LINEAR_API_KEY_FILE) and the endpoint from LINEAR_API_URL (an https URL, or http on a loopback
 * host for a local twin — the SDK refuses other http URLs).
 */
import { LinearClient } from '@linear/sdk';
import { requireSecret } from '../credentials.js';

export function createLinear(env: NodeJS.ProcessEnv = process.env): LinearClient {
  const apiUrl = env.LINEAR_API_URL?.trim();
  return new LinearClient({
    apiKey: requireSecret('LINEAR_API_KEY', env),
    ...(apiUrl ? { apiUrl } : {}),
  });
}
