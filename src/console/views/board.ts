/**
 * The board: a column per ticket state, a card per ticket, filters by repository and batch, and a
 * count per column. Cards carry their key, repo and batch as data attributes so the page script
 * can move a card the live feed re-rendered into its new column without reloading.
 */
import { TOP_STATES } from '../../../machines/ticket.js';
import type { Board, BoardCard } from '../../db/board.js';
import { html, joinHtml, type SafeHtml } from '../html.js';
import { formatAge, formatCost, isoOrEmpty } from './format.js';

export interface BoardSelection {
  readonly repo?: string | undefined;
  readonly batch?: string | undefined;
}

/** One ticket card (also what the live feed sends to open boards). */
export function renderCard(card: BoardCard, now: Date): SafeHtml {
  const href = `/tickets/${encodeURIComponent(card.key)}`;
  const counters = [
    card.round ? `round ${card.round}` : null,
    card.attempt ? `attempt ${card.attempt}` : null,
  ].filter(Boolean);
  const agent = card.agent;
  const spent = (card.cost_usd ?? 0) + (agent?.cost_usd ?? 0);
  const cost = spent > 0 ? formatCost(spent) : null;
  const since = formatAge(now.getTime() - card.state_changed_at.getTime());
  const meta = [
    card.batch ? html` · <span class="batch">${card.batch}</span>` : '',
    card.substate ? html` · <span class="substate">${card.substate}</span>` : '',
    counters.length ? html` · ${counters.join(' · ')}` : '',
  ];
  const money = [
    cost ? html` · <span class="cost">${cost}</span>` : '',
    card.reason ? html` · <span class="reason">${card.reason}</span>` : '',
  ];
  return html`<article class="card" id="card-${card.key}" data-key="${card.key}" \
data-id="${card.id}" data-repo="${card.repo}" data-batch="${card.batch ?? ''}" \
data-state="${card.state}">
<a class="key" href="${href}">${card.key}</a> <span class="title">${card.title}</span>
<div class="meta"><span class="repo">${card.repo}</span>${meta}</div>
<div class="meta">in state \
<span class="age" data-since="${isoOrEmpty(card.state_changed_at)}">${since}</span>${money}</div>
${agent ? agentLine(agent, now) : ''}
</article>`;
}

function agentLine(agent: NonNullable<BoardCard['agent']>, now: Date): SafeHtml {
  const model = agent.model ? `:${agent.model}` : '';
  const provider = agent.provider ? html` · ${agent.provider}${model}` : '';
  const age = agent.started_at ? formatAge(now.getTime() - agent.started_at.getTime()) : 'starting';
  return html`<div class="agent"><span class="dot"></span>${agent.role} ${agent.phase}${provider} \
· <span class="age" data-since="${isoOrEmpty(agent.started_at)}">${age}</span></div>`;
}

function filterForm(
  name: 'repo' | 'batch',
  options: readonly string[],
  selected: string | undefined,
): SafeHtml {
  return html`<label>${name} <select name="${name}">
<option value="">all</option>
${options.map((o) => html`<option value="${o}"${o === selected ? ' selected' : ''}>${o}</option>`)}
</select></label>`;
}

/** The whole board page body. */
export function renderBoard(
  board: Board,
  filters: { repos: readonly string[]; batches: readonly string[] },
  selection: BoardSelection,
  now: Date,
): SafeHtml {
  const byState = new Map<string, BoardCard[]>();
  for (const card of board.cards) {
    const list = byState.get(card.state) ?? [];
    list.push(card);
    byState.set(card.state, list);
  }
  const total = Object.values(board.counts).reduce((a, b) => a + b, 0);
  const columns = TOP_STATES.map((state) => {
    const cards = byState.get(state) ?? [];
    const count = board.counts[state] ?? 0;
    const hidden = count - cards.length;
    return html`<section class="column${count === 0 ? ' empty' : ''}" data-state="${state}">
<h2>${state} <span class="count" data-count="${state}">${count}</span></h2>
<div class="cards">${joinHtml(cards.map((c) => renderCard(c, now)))}</div>
${hidden > 0 ? html`<p class="more">and ${hidden} more (filter by repo or batch)</p>` : ''}
</section>`;
  });
  return html`<form class="filters" method="get" action="/">
${filterForm('repo', filters.repos, selection.repo)}
${filterForm('batch', filters.batches, selection.batch)}
<button type="submit">filter</button>
<span class="total"><span id="total-count">${total}</span> tickets</span>
</form>
<div class="board">${columns}</div>`;
}
