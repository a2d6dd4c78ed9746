/**
 * Credentials by tier: the GitHub and Linear tokens, the webhook secrets and the notification URL
 * are read only here, only by integration handlers, from the environment or a `*_FILE`. The
 * process that spawns agents drops all of them at start (see {@link dropSecrets}) and never reads
 * them again.
 */
import { readFileSync } from 'node:fs';
import { LoopwrightError } from '../errors.js';

/** Every secret an integration may read; each may also be given as `<NAME>_FILE`. */
export const SECRET_NAMES = [
  'GITHUB_TOKEN',
  'GH_TOKEN',
  'LINEAR_API_KEY',
  'GITHUB_WEBHOOK_SECRET',
  'LINEAR_WEBHOOK_SECRET',
  'LOOPWRIGHT_NOTIFY_WEBHOOK_URL',
] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

/** A secret an integration needs is not configured (or its file cannot be read). */
export class MissingCredentialError extends LoopwrightError {
  constructor(name: string, why = 'is not set') {
    super('MISSING_CREDENTIAL', `${name} ${why} (set ${name} or ${name}_FILE)`);
  }
}

/**
 * The secret's value (trimmed), from `NAME` or the file named by `NAME_FILE`; null when neither.
 */
export function readSecret(name: SecretName, env: NodeJS.ProcessEnv = process.env): string | null {
  const direct = env[name];
  if (direct && direct.trim()) return direct.trim();
  const file = env[`${name}_FILE`];
  if (!file) return null;
  try {
    const value = readFileSync(file, 'utf8').trim();
    return value || null;
  } catch (error) {
    throw new MissingCredentialError(
      name,
      `file ${file} cannot be read: ${(error as Error).message}`,
    );
  }
}

/** The secret or a {@link MissingCredentialError}. */
export function requireSecret(name: SecretName, env: NodeJS.ProcessEnv = process.env): string {
  const value = readSecret(name, env);
  if (!value) throw new MissingCredentialError(name);
  return value;
}

/** Names of every secret variable present in `env` (values or files). */
export function secretsPresent(env: NodeJS.ProcessEnv): string[] {
  return SECRET_NAMES.flatMap((n) => [n, `${n}_FILE`]).filter((k) => env[k] !== undefined);
}

/**
 * Remove every secret variable (and `_FILE` pointer) from `env` in place; returns what was removed.
 */
export function dropSecrets(env: NodeJS.ProcessEnv = process.env): string[] {
  const present = secretsPresent(env);
  for (const key of present) delete env[key];
  return present;
}
