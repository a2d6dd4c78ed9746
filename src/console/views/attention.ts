/**
 * "Needs a person": copilot tickets awaiting approval, escalations with their reason codes, dead
 * letters with the validation errors — each with the buttons the CLI's commands correspond to.
 */
import type { AttentionItem, AttentionKind } from '../../db/attention.js';
import { html, type SafeHtml } from '../html.js';
import { renderActions } from './actions.js';
import { formatAge, isoOrEmpty, link, stateLabel } from './format.js';

const TITLES: Record<AttentionKind, string> = {
  approval: 'copilot tickets awaiting approval',
  escalation: 'escalations',
  dead_letter: 'dead letters',
};

function item(i: AttentionItem, csrf: string, now: Date): SafeHtml {
  const age = formatAge(now.getTime() - i.since.getTime());
  const reason = i.reason ? html` · <span class="reason">${i.reason}</span>` : '';
  const errors = i.errors.map((e) => html`<li><code>${e}</code></li>`);
  const { key, state, substate, version } = i;
  return html`<article class="attention-item" id="attention-${i.key}" data-key="${i.key}">
<h3>${link('tickets', i.key)} ${i.title}</h3>
<p class="meta">${i.repo}${i.batch ? ` · ${i.batch}` : ''} · ${stateLabel(i.state, i.substate)} \
for <span class="age" data-since="${isoOrEmpty(i.since)}">${age}</span>${reason}</p>
${i.detail ? html`<p class="detail">${i.detail}</p>` : ''}
${i.errors.length ? html`<ul class="errors">${errors}</ul>` : ''}
${renderActions({ key, state, substate, version, csrf, back: '/attention' })}
</article>`;
}

/** The page body; each item's buttons are fenced on its version. */
export function renderAttention(
  items: readonly AttentionItem[],
  csrf: string,
  now: Date,
): SafeHtml {
  const groups = (Object.keys(TITLES) as AttentionKind[]).map((kind) => {
    const mine = items.filter((i) => i.kind === kind);
    return html`<section class="doc-section" id="${`group-${kind}`}">\
<h2>${TITLES[kind]} <span class="count">${mine.length}</span></h2>
${mine.length ? mine.map((i) => item(i, csrf, now)) : html`<p class="muted">none</p>`}</section>`;
  });
  return html`<h1>needs a person <span class="count">${items.length}</span></h1>${groups}`;
}
