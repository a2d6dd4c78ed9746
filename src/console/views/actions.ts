/**
 * The operator's buttons: the same events the CLI sends (approve, retry, reject, cancel, replay),
 * offered only where the ticket's state accepts them. Each is a POST form carrying the CSRF token
 * and the version the operator saw, so a click on a page that has gone stale is refused instead of
 * acting on a ticket that has moved.
 */
import { html, type SafeHtml } from '../html.js';

export const CONSOLE_ACTIONS = ['approve', 'retry', 'reject', 'cancel', 'replay'] as const;
export type ConsoleAction = (typeof CONSOLE_ACTIONS)[number];

/** The actions a ticket in this state accepts, in button order. */
export function actionsFor(state: string, substate: string | null): ConsoleAction[] {
  switch (state) {
    case 'ESCALATED':
      return ['approve', 'retry', 'reject', 'cancel'];
    case 'DEAD_LETTER':
      return ['retry', 'cancel'];
    case 'BLOCKED':
      return ['cancel'];
    case 'SHIP':
      return substate === 'awaiting_approval'
        ? ['approve', 'reject', 'cancel']
        : ['replay', 'cancel'];
    case 'LIVE':
    case 'CANCELLED':
      return [];
    default:
      return ['replay', 'cancel'];
  }
}

export interface ActionFormOptions {
  readonly key: string;
  readonly state: string;
  readonly substate: string | null;
  readonly version: number;
  readonly csrf: string;
  /** Where to return after the action (a local path). */
  readonly back: string;
}

/** The buttons for one ticket (nothing for final tickets). */
export function renderActions(o: ActionFormOptions): SafeHtml {
  const actions = actionsFor(o.state, o.substate);
  if (actions.length === 0) return html``;
  const path = `/tickets/${encodeURIComponent(o.key)}/actions`;
  const buttons = actions.map((a) => {
    const confirm = a === 'cancel' || a === 'reject' ? `${a} ${o.key}?` : '';
    return html`<button type="submit" name="action" value="${a}" class="btn-${a}" \
data-confirm="${confirm}">${a}</button>`;
  });
  return html`<form class="actions" method="post" action="${path}">
<input type="hidden" name="_csrf" value="${o.csrf}">
<input type="hidden" name="version" value="${o.version}">
<input type="hidden" name="back" value="${o.back}">
<input type="text" name="reason" maxlength="500" placeholder="reason (optional)" \
aria-label="reason">
${buttons}
</form>`;
}
