/**
 * The console's defences, as small pure checks the app applies to every request:
 * - loopback by default; bound elsewhere, a token is required (bearer header, cookie set from a
 *   one-time `?token=` link, compared in constant time);
 * - on a loopback bind the Host header must name the loopback (DNS rebinding cannot reach it);
 * - every state-changing request is a POST with a CSRF token — an HMAC of the session cookie under
 * a
 *   per-process secret — and an Origin (or Referer) of this very console;
 * - a strict Content-Security-Policy and friends on every response.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export const SESSION_COOKIE = 'lw_session';
export const TOKEN_COOKIE = 'lw_token';
export const FLASH_COOKIE = 'lw_flash';

/** Headers every response carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; '),
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '::ffff:127.0.0.1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** A fresh token for a non-loopback bind (printed once at start). */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Constant-time comparison of two secrets of any length. */
export function sameSecret(given: string | undefined | null, expected: string): boolean {
  if (typeof given !== 'string' || given.length === 0) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Per-process CSRF signer: token = HMAC(secret, session id). */
export function createCsrf(secret: Buffer = randomBytes(32)) {
  const sign = (session: string) =>
    createHmac('sha256', secret).update(session).digest('base64url');
  return {
    newSession: () => randomBytes(18).toString('base64url'),
    tokenFor: sign,
    verify(session: string | undefined, token: unknown): boolean {
      if (!session || typeof token !== 'string') return false;
      return sameSecret(token, sign(session));
    },
  };
}
export type Csrf = ReturnType<typeof createCsrf>;

/** Host header values a loopback-bound console answers to (anti DNS rebinding). */
export function allowedHosts(bindHost: string, port: number): Set<string> {
  const names = isLoopbackHost(bindHost)
    ? ['127.0.0.1', 'localhost', '[::1]', bindHost.includes(':') ? `[${bindHost}]` : bindHost]
    : [];
  return new Set(names.map((n) => `${n}:${port}`.toLowerCase()));
}

/**
 * A state-changing request comes from a page of this console: its Origin (or, without one, its
 * Referer's origin) is `http://<Host>`, and a Sec-Fetch-Site, when sent, says same-origin.
 */
export function sameOrigin(headers: {
  host?: string | undefined;
  origin?: string | undefined;
  referer?: string | undefined;
  secFetchSite?: string | undefined;
}): boolean {
  if (!headers.host) return false;
  if (headers.secFetchSite && headers.secFetchSite !== 'same-origin') return false;
  const expected = [
    `http://${headers.host}`.toLowerCase(),
    `https://${headers.host}`.toLowerCase(),
  ];
  if (headers.origin !== undefined) return expected.includes(headers.origin.toLowerCase());
  if (!headers.referer) return false;
  try {
    return expected.includes(new URL(headers.referer).origin.toLowerCase());
  } catch {
    return false;
  }
}

/** A local path to return to after an action (`/attention`), never another site. */
export function safeBackPath(raw: unknown, fallback: string): string {
  if (typeof raw !== 'string') return fallback;
  if (!/^\/(?![/\\])[A-Za-z0-9/_.~%-]*(\?[A-Za-z0-9=&_.~%-]*)?$/.test(raw)) return fallback;
  return raw;
}
