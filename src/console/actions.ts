/**
 * The operator's buttons, server side: POST /tickets/:key/actions applies the same event the CLI's
 * `approve`/`retry`/`reject`/`cancel`/`replay` send, through `applyEvent`, journaled with the
 * console's operator actor, fenced on the version the page showed (a stale page is refused) and
 * idempotent per session and version (a double click applies once).
 */
import type { Context } from 'hono';
import { setCookie } from 'hono/cookie';
import type { TicketEventInput } from '../../machines/ticket.js';
import { describeApplied, outcomeJson } from '../cli/commands/operator-events.js';
import { applyEvent, type ApplyOutcome } from '../engine/apply-event.js';
import { isBadInput } from '../errors.js';
import type { ConsoleDeps, ConsoleEnv } from './context.js';
import { FLASH_COOKIE, safeBackPath } from './security.js';
import { CONSOLE_ACTIONS, type ConsoleAction } from './views/actions.js';

const EVENTS: Record<ConsoleAction, TicketEventInput['type']> = {
  approve: 'APPROVE',
  retry: 'RETRY',
  reject: 'REJECT',
  cancel: 'CANCEL',
  replay: 'REPLAY',
};

/** A parsed, validated action form, or the one-line reason it is bad input. */
export function parseActionForm(
  form: Record<string, unknown>,
): { action: ConsoleAction; version: number; reason: string | null } | { error: string } {
  const action = form.action;
  if (typeof action !== 'string' || !(CONSOLE_ACTIONS as readonly string[]).includes(action))
    return { error: `unknown action (expected one of ${CONSOLE_ACTIONS.join(', ')})` };
  const version = typeof form.version === 'string' ? form.version.trim() : '';
  if (!/^\d{1,9}$/.test(version) || Number(version) < 1)
    return { error: 'version must be the positive integer the page showed' };
  const raw = form.reason;
  if (raw !== undefined && typeof raw !== 'string') return { error: 'reason must be text' };
  const reason = raw?.trim() ?? '';
  if (reason.length > 500) return { error: 'reason is longer than 500 characters' };
  if (reason && action === 'replay') return { error: 'replay takes no reason' };
  return { action: action as ConsoleAction, version: Number(version), reason: reason || null };
}

function describe(outcome: ApplyOutcome): string {
  if (outcome.status === 'applied') return describeApplied(outcome);
  if (outcome.reason === 'STALE_VERSION')
    return (
      `${outcome.key} moved on (now ${outcome.state}, version ${outcome.version}) since ` +
      `the page was loaded: nothing done, look again`
    );
  return `${outcome.key}: refused: ${outcome.detail}`;
}

/** Handle one button press. */
export async function handleAction(deps: ConsoleDeps, c: Context<ConsoleEnv>) {
  const key = c.req.param('key') ?? '';
  const form = await c.req.parseBody();
  const wantsJson = (c.req.header('accept') ?? '').includes('application/json');
  const parsed = parseActionForm(form);
  if ('error' in parsed) return c.text(`bad input: ${parsed.error}\n`, 400);
  const event = (
    parsed.reason
      ? { type: EVENTS[parsed.action], reason: parsed.reason }
      : { type: EVENTS[parsed.action] }
  ) as TicketEventInput;
  let outcome: ApplyOutcome;
  try {
    outcome = await applyEvent(deps.db, key, event, {
      actor: deps.actor,
      expectedVersion: parsed.version,
      idempotencyKey: `console:${c.get('session')}:${parsed.action}:v${parsed.version}`,
    });
  } catch (error) {
    if (isBadInput(error)) return c.text(`bad input: ${(error as Error).message}\n`, 404);
    throw error;
  }
  deps.logger.info(
    { ticket: outcome.key, action: parsed.action, actor: deps.actor, status: outcome.status },
    'Console operator action',
  );
  const ok = outcome.status === 'applied';
  if (wantsJson) return c.json(outcomeJson(outcome), ok ? 200 : 409);
  const flash = Buffer.from(JSON.stringify({ ok, text: describe(outcome) })).toString('base64url');
  setCookie(c, FLASH_COOKIE, flash, { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 60 });
  return c.redirect(safeBackPath(form.back, `/tickets/${encodeURIComponent(key)}`), 303);
}
