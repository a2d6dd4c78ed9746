/**
 * Small formatters shared by the console's pages and the exported ticket document.
 */
import { html, type SafeHtml } from '../html.js';

/** `42s`, `5m 03s`, `2h 10m`, `3d 4h`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** `$0.12`, or null when nothing is known. */
export function formatCost(usd: number | null | undefined): string | null {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return null;
  return `$${usd.toFixed(usd >= 100 ? 0 : 2)}`;
}

/** `2026-12-01 20:15:03Z` — UTC, second precision, sortable. */
export function formatTime(at: Date | string | null | undefined): string {
  if (!at) return '-';
  const d = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(d.getTime())) return '-';
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** An ISO timestamp for `data-since` attributes the page script ticks from. */
export function isoOrEmpty(at: Date | null | undefined): string {
  return at ? at.toISOString() : '';
}

/** `SHIP.merging` or `BUILD`. */
export function stateLabel(state: string, substate: string | null): string {
  return substate ? `${state}.${substate}` : state;
}

/** `1,234` tokens, or null. */
export function formatCount(n: number | string | null | undefined): string | null {
  if (n === null || n === undefined) return null;
  const value = Number(n);
  return Number.isFinite(value) ? value.toLocaleString('en-US') : null;
}

/** A link to a ticket's or a batch's page, its name as the text. */
export function link(kind: 'batches' | 'tickets', name: string): SafeHtml {
  return html`<a href="${`/${kind}/${encodeURIComponent(name)}`}">${name}</a>`;
}

/** `<thead>` with one `<th>` per column name. */
export function head(...columns: string[]): SafeHtml {
  return html`<thead><tr>${columns.map((c) => html`<th>${c}</th>`)}</tr></thead>`;
}
