/**
 * Batches: the list, and one batch's view — the done-oracle's answer and what is missing, the pins
 * and the tripwire's history, interventions, and cost and time per phase (src/db/stats.ts).
 */
import type { BatchSummary } from '../../db/batches.js';
import type { FactoryStats } from '../../db/stats.js';
import type { OracleResult } from '../../oracle/oracle.js';
import { html, type SafeHtml } from '../html.js';
import { formatAge, formatCost, formatTime, head, link } from './format.js';

export function renderBatchList(batches: readonly BatchSummary[]): SafeHtml {
  if (batches.length === 0)
    return html`<h1>batches</h1><p class="muted">no batches (loopwright batch create NAME)</p>`;
  const rows = batches.map(
    (b) => html`<tr><td>${link('batches', b.name)}</td><td>${b.status}</td>\
<td class="num">${b.tickets}</td><td class="num">${b.live}</td>\
<td>${formatTime(b.created_at)}</td></tr>`,
  );
  return html`<h1>batches</h1><div class="scroll"><table>\
${head('batch', 'status', 'tickets', 'live', 'created')}<tbody>
${rows}
</tbody></table></div>`;
}

export interface BatchPage {
  readonly name: string;
  readonly status: string;
  readonly stopReason: string | null;
  readonly pins: Record<string, string> | null;
  readonly oracle: OracleResult | { readonly error: string };
  readonly events: readonly {
    event_type: string;
    actor: string;
    reason: string | null;
    changed: readonly string[];
    created_at: Date;
  }[];
  readonly stats: FactoryStats;
}

function oracle(o: BatchPage['oracle']): SafeHtml {
  if ('error' in o) return html`<p class="refused">oracle could not judge: ${o.error}</p>`;
  const verdict = o.done
    ? 'DONE: every ticket is LIVE (re-verified from git and live checks) or human-gated'
    : 'NOT DONE';
  const blockers = o.blockers.map((b) => html`<li>${b}</li>`);
  const rows = o.tickets.map(
    (t) => html`<tr class="verdict-${t.verdict}"><td>${link('tickets', t.key)}</td>\
<td>${t.state}</td><td>${t.verdict}</td><td>${t.why.join('; ')}</td></tr>`,
  );
  return html`<p class="oracle ${o.done ? 'done' : 'not-done'}">${verdict}</p>
${o.blockers.length ? html`<ul class="errors">${blockers}</ul>` : ''}
<div class="scroll"><table>${head('ticket', 'state', 'verdict', 'why')}<tbody>
${rows}
</tbody></table></div>`;
}

function pins(b: BatchPage): SafeHtml {
  if (!b.pins) return html`<p class="muted">not pinned yet</p>`;
  const entries = Object.entries(b.pins).map(
    ([k, v]) => html`<dt>${k}</dt><dd><code class="sha">${v}</code></dd>`,
  );
  return html`<dl class="fields">${entries}</dl>`;
}

function tripwire(b: BatchPage): SafeHtml {
  if (!b.events.length) return html`<p class="muted">none</p>`;
  const rows = b.events.map(
    (e) => html`<tr><td>${formatTime(e.created_at)}</td><td>${e.event_type}</td>\
<td>${e.actor}</td><td>${e.changed.join(', ')}</td><td>${e.reason ?? ''}</td></tr>`,
  );
  return html`<div class="scroll"><table>\
${head('time', 'event', 'actor', 'changed', 'reason')}<tbody>${rows}</tbody></table></div>`;
}

function interventions(s: FactoryStats): SafeHtml {
  if (!s.interventions.length) return html`<p class="muted">none</p>`;
  return html`<ul>${s.interventions.map((i) => html`<li>${i.event}: ${i.count}</li>`)}</ul>`;
}

function costAndTime(s: FactoryStats): SafeHtml {
  const totalCost = s.perTicket.reduce((sum, t) => sum + t.costUsd, 0);
  const phases = s.timePerPhase.map(
    (p) => html`<tr><td>${p.state}</td><td class="num">${p.tickets}</td>\
<td>${formatAge(p.avgSeconds * 1000)}</td><td>${formatAge(p.totalSeconds * 1000)}</td></tr>`,
  );
  const tickets = s.perTicket.map(
    (t) => html`<tr><td>${link('tickets', t.ticket)}</td><td>${t.state}</td>\
<td class="num">${t.agentRuns}</td><td class="num">${formatCost(t.costUsd) ?? '-'}</td>\
<td class="num">${t.interventions}</td></tr>`,
  );
  const falseStarts = s.falseStarts.map((f) => html`<li>${f.kind}: ${f.count}</li>`);
  return html`<p>${s.tickets} tickets · ${formatCost(totalCost) ?? '$0.00'} in agent runs</p>
<h3>time per phase</h3>
<div class="scroll"><table>${head('phase', 'tickets', 'average', 'total')}<tbody>
${phases}
</tbody></table></div>
<h3>per ticket</h3>
<div class="scroll"><table>\
${head('ticket', 'state', 'agent runs', 'cost', 'interventions')}<tbody>
${tickets}
</tbody></table></div>
${s.falseStarts.length ? html`<h3>false starts</h3><ul>${falseStarts}</ul>` : ''}`;
}

export function renderBatch(b: BatchPage): SafeHtml {
  const s = b.stats;
  const stopped = b.stopReason
    ? html`<p class="refused">stopped: ${b.stopReason} \
(loopwright batch repin ${b.name} --reason ...)</p>`
    : '';
  return html`<h1>batch ${b.name} <span class="state">${b.status}</span></h1>
${stopped}
<section class="doc-section" id="oracle"><h2>done-oracle</h2>${oracle(b.oracle)}</section>
<section class="doc-section" id="pins"><h2>pins</h2>
${pins(b)}
<h3>tripwire history</h3>
${tripwire(b)}
</section>
<section class="doc-section" id="interventions"><h2>interventions</h2>
${interventions(s)}
</section>
<section class="doc-section" id="cost"><h2>cost and time</h2>
${costAndTime(s)}
</section>`;
}
