/**
 * Nothing a tool returns may carry a secret or a database URL: error messages from the driver,
 * the embedded server or git, and transcript text an agent wrote, pass through {@link redact}
 * first. It removes connection URLs of any scheme with credentials, and the literal values of the
 * secret-looking variables in the server's own environment.
 */

const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|DATABASE_URL|_URL)$/i;
const URL_WITH_CREDENTIALS = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/@'"]*:[^\s@'"]*@[^\s'"]*/gi;
const POSTGRES_URL = /\bpostgres(?:ql)?:\/\/[^\s'"]*/gi;

/** The values to hide: every secret-looking variable of `env` at least 6 characters long. */
export function secretValues(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && value !== undefined && value.length >= 6)
    .map(([, value]) => value!)
    .sort((a, b) => b.length - a.length);
}

/** `text` with connection URLs and the given secret values replaced by `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out.replace(URL_WITH_CREDENTIALS, '[redacted]').replace(POSTGRES_URL, '[redacted]');
}
