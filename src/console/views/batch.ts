/**
 * Batches: the list, and one batch's view — the done-oracle's answer and what is missing, the pins
 * and the tripwire's history, interventions, and cost and time per phase (src/db/stats.ts).
 */
import type { BatchSummary } from '../../db/batches.js';
import type { FactoryStats } from '../../db/stats.js';
import type { OracleResult } from '../../oracle/oracle.js';
import { html, type SafeHtml } from '../html.js';
import { formatAge, formatCost, formatTime } from './format.js';

export function renderBatchList(batches: readonly BatchSummary[]): SafeHtml {
  if (batches.length === 0)
    return html`<h1>batches</h1><p class="muted">no batches (loopwright batch create NAME)</p>`;
  return html`<h1>batches</h1><div class="scroll"><table><thead><tr><th>batch</th><th>status</th><th>tickets</th><th>live</th><th>created</th></tr></thead><tbody>
${batches.map((b) => html`<tr><td><a href="${`/batches/${encodeURIComponent(b.name)}`}">${b.name}</a></td><td>${b.status}</td><td class="num">${b.tickets}</td><td class="num">${b.live}</td><td>${formatTime(b.created_at)}</td></tr>`)}
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
  return html`<p class="oracle ${o.done ? 'done' : 'not-done'}">${o.done ? 'DONE: every ticket ' + 'is LIVE (re-verified from git and live checks) or human-gated' : 'NOT DONE'}</p>
${o.blockers.length ? html`<ul class="errors">${o.blockers.map((b) => html`<li>${b}</li>`)}</ul>` : ''}
<div class="scroll"><table><thead><tr><th>ticket</th><th>state</th><th>verdict</th><th>why</th></tr></thead><tbody>
${o.tickets.map((t) => html`<tr class="verdict-${t.verdict}"><td><a href="${`/tickets/${encodeURIComponent(t.key)}`}">${t.key}</a></td><td>${t.state}</td><td>${t.verdict}</td><td>${t.why.join('; ')}</td></tr>`)}
</tbody></table></div>`;
}

export function renderBatch(b: BatchPage): SafeHtml {
  const s = b.stats;
  const totalCost = s.perTicket.reduce((sum, t) => sum + t.costUsd, 0);
  return html`<h1>batch ${b.name} <span class="state">${b.status}</span></h1>
${b.stopReason ? html`<p class="refused">stopped: ${b.stopReason} (loopwright batch repin ${b.name} --reason ...)</p>` : ''}
<section class="doc-section" id="oracle"><h2>done-oracle</h2>${oracle(b.oracle)}</section>
<section class="doc-section" id="pins"><h2>pins</h2>
${b.pins ? html`<dl class="fields">${Object.entries(b.pins).map(([k, v]) => html`<dt>${k}</dt><dd><code class="sha">${v}</code></dd>`)}</dl>` : html`<p class="muted">not pinned yet</p>`}
<h3>tripwire history</h3>
${b.events.length ? html`<div class="scroll"><table><thead><tr><th>time</th><th>event</th><th>actor</th><th>changed</th><th>reason</th></tr></thead><tbody>${b.events.map((e) => html`<tr><td>${formatTime(e.created_at)}</td><td>${e.event_type}</td><td>${e.actor}</td><td>${e.changed.join(', ')}</td><td>${e.reason ?? ''}</td></tr>`)}</tbody></table></div>` : html`<p class="muted">none</p>`}
</section>
<section class="doc-section" id="interventions"><h2>interventions</h2>
${s.interventions.length ? html`<ul>${s.interventions.map((i) => html`<li>${i.event}: ${i.count}</li>`)}</ul>` : html`<p class="muted">none</p>`}
</section>
<section class="doc-section" id="cost"><h2>cost and time</h2>
<p>${s.tickets} tickets · ${formatCost(totalCost) ?? '$0.00'} in agent runs</p>
<h3>time per phase</h3>
<div class="scroll"><table><thead><tr><th>phase</th><th>tickets</th><th>average</th><th>total</th></tr></thead><tbody>
${s.timePerPhase.map((p) => html`<tr><td>${p.state}</td><td class="num">${p.tickets}</td><td>${formatAge(p.avgSeconds * 1000)}</td><td>${formatAge(p.totalSeconds * 1000)}</td></tr>`)}
</tbody></table></div>
<h3>per ticket</h3>
<div class="scroll"><table><thead><tr><th>ticket</th><th>state</th><th>agent runs</th><th>cost</th><th>interventions</th></tr></thead><tbody>
${s.perTicket.map((t) => html`<tr><td><a href="${`/tickets/${encodeURIComponent(t.ticket)}`}">${t.ticket}</a></td><td>${t.state}</td><td class="num">${t.agentRuns}</td><td class="num">${formatCost(t.costUsd) ?? '-'}</td><td class="num">${t.interventions}</td></tr>`)}
</tbody></table></div>
${s.falseStarts.length ? html`<h3>false starts</h3><ul>${s.falseStarts.map((f) => html`<li>${f.kind}: ${f.count}</li>`)}</ul>` : ''}
</section>`;
}
