/**
 * The console's front door, applied to every request before any route: security headers, the Host
 * check of a loopback bind, the token of a non-loopback one, the session cookie, and — for every
 * POST — the CSRF token and same-origin check. A refused request changes nothing.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { ConsoleDeps, ConsoleEnv } from './context.js';
import {
  SECURITY_HEADERS,
  SESSION_COOKIE,
  TOKEN_COOKIE,
  sameOrigin,
  sameSecret,
} from './security.js';

const COOKIE = { httpOnly: true, sameSite: 'Strict', path: '/' } as const;

function refuse(c: Context, status: 400 | 401 | 403 | 405 | 421, text: string) {
  return c.text(`${text}\n`, status);
}

function bearer(c: Context): string | undefined {
  const header = c.req.header('authorization');
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

/** Build the guard for one console. */
export function createGuard(deps: ConsoleDeps): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
    const method = c.req.method;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST')
      return refuse(c, 405, 'method not allowed');
    const host = c.req.header('host')?.toLowerCase();
    if (deps.hosts && (!host || !deps.hosts.has(host)))
      return refuse(c, 421, 'refused: this console answers only to its loopback address');
    if (deps.token !== null) {
      const query = method === 'GET' ? c.req.query('token') : undefined;
      if (query !== undefined && sameSecret(query, deps.token)) {
        // Trade the link's token for a cookie, and drop it from the address bar and history.
        setCookie(c, TOKEN_COOKIE, deps.token, COOKIE);
        const url = new URL(c.req.url);
        url.searchParams.delete('token');
        return c.redirect(`${url.pathname}${url.search}`, 303);
      }
      if (!sameSecret(bearer(c), deps.token) && !sameSecret(getCookie(c, TOKEN_COOKIE), deps.token))
        return refuse(c, 401, 'token required: open the URL the console printed at start');
    }
    let session = getCookie(c, SESSION_COOKIE);
    if (method === 'POST') {
      if (
        !sameOrigin({
          host: c.req.header('host'),
          origin: c.req.header('origin'),
          referer: c.req.header('referer'),
          secFetchSite: c.req.header('sec-fetch-site'),
        })
      )
        return refuse(c, 403, 'refused: cross-origin request');
      const type = c.req.header('content-type') ?? '';
      if (!type.startsWith('application/x-www-form-urlencoded'))
        return refuse(c, 400, 'refused: a form post was expected');
      const length = Number(c.req.header('content-length') ?? 'NaN');
      if (!Number.isFinite(length) || length > 8192)
        return refuse(c, 400, 'refused: form too large');
      const form = await c.req.parseBody();
      if (!deps.csrf.verify(session, form._csrf))
        return refuse(c, 403, 'refused: CSRF token missing or wrong (reload the page)');
    } else if (!session || !/^[A-Za-z0-9_-]{16,64}$/.test(session)) {
      session = deps.csrf.newSession();
      setCookie(c, SESSION_COOKIE, session, COOKIE);
    }
    c.set('session', session!);
    c.set('csrfToken', deps.csrf.tokenFor(session!));
    await next();
  };
}
