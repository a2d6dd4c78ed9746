/**
 * The ticket document: header, the plan as a document, the journal as a timeline, critiques,
 * handovers, reports and verdicts, the gates the orchestrator ran, the diff, agent runs, and the
 * tail of a running agent's transcript. The console page and `show --html` render the same body.
 */
import type { Artifact } from '../../db/artifacts.js';
import { html, type HtmlValue, type SafeHtml } from '../html.js';
import type { TicketDocument } from '../ticket-document.js';
import { renderActions } from './actions.js';
import { renderGate, renderPlan, renderReportLike, renderText } from './artifacts.js';
import {
  formatAge,
  formatCost,
  formatCount,
  formatTime,
  head,
  isoOrEmpty,
  link,
  stateLabel,
} from './format.js';
import { preformatted, renderMarkdown } from './markdown.js';

export interface TicketRenderOptions {
  /** Buttons and live patching (console); absent for the standalone export. */
  readonly interactive?: { readonly csrf: string } | undefined;
  readonly now?: Date;
}

function section(id: string, title: string, body: HtmlValue, count?: number): SafeHtml {
  const counted = count !== undefined ? html` <span class="count">${count}</span>` : '';
  return html`<section class="doc-section" id="${id}"><h2>${title}${counted}</h2>${body}</section>`;
}

function header(doc: TicketDocument, o: TicketRenderOptions, now: Date): SafeHtml {
  const t = doc.view.ticket;
  const deps = (rows: TicketDocument['view']['dependencies']) =>
    rows.length
      ? rows.map((d, i) => html`${i ? ', ' : ''}${link('tickets', d.key)} (${d.state})`)
      : '-';
  const fields: [string, HtmlValue][] = [
    [
      'state',
      html`<span class="state" id="ticket-state" data-state="${t.state}">\
${stateLabel(t.state, t.substate)}</span>`,
    ],
    ['repo', t.repo],
    ['batch', t.batch ? link('batches', t.batch) : '-'],
    ['mode', doc.mode],
    [
      'in state',
      html`<span class="age" data-since="${isoOrEmpty(t.state_changed_at)}">\
${formatAge(now.getTime() - t.state_changed_at.getTime())}</span>`,
    ],
    ['version', `${t.version} (${t.machine_version})`],
    ['attempt / round', `${t.attempt ?? 0} / ${t.round ?? 0}`],
    ['cost', formatCost(t.cost_usd) ?? '-'],
    ['depends on', deps(doc.view.dependencies)],
    ['dependents', deps(doc.view.dependents)],
  ];
  if (t.reason) fields.splice(1, 0, ['reason', html`<span class="reason">${t.reason}</span>`]);
  if (t.detail) fields.splice(2, 0, ['detail', t.detail]);
  const { key, state, substate, version } = t;
  const actions = o.interactive
    ? renderActions({
        key,
        state,
        substate,
        version,
        csrf: o.interactive.csrf,
        back: `/tickets/${encodeURIComponent(t.key)}`,
      })
    : '';
  return html`<header class="ticket-head">
<h1><span class="key">${t.key}</span> ${t.title}</h1>
<dl class="fields">${fields.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
${actions}
${t.body.trim() ? html`<div class="prose body">${renderMarkdown(t.body, 2)}</div>` : ''}
</header>`;
}

function timeline(doc: TicketDocument): SafeHtml {
  const rows = doc.view.timeline.map(
    (r) =>
      html`<tr><td class="num">${r.seq}</td><td>${formatTime(r.at)}</td>\
<td><strong>${r.event}</strong></td><td>${r.from_state ?? '(new)'} → ${r.to_state}</td>\
<td>${r.actor}</td><td>${r.reason ? html`<span class="reason">${r.reason}</span> ` : ''}\
${r.detail ?? ''}</td></tr>`,
  );
  const columns = head('seq', 'time', 'event', 'from → to', 'actor', 'reason');
  return html`<div class="scroll"><table class="timeline">${columns}\
<tbody>${rows}</tbody></table></div>`;
}

function plans(doc: TicketDocument): SafeHtml {
  const frozen = doc.artifacts.filter((a) => a.kind === 'approved_plan').at(-1);
  const drafts = doc.artifacts.filter((a) => a.kind === 'plan');
  if (!frozen && drafts.length === 0) return html`<p class="muted">no plan yet</p>`;
  const latest = frozen ?? drafts.at(-1)!;
  const older = drafts.filter((d) => d !== latest);
  return html`${renderPlan(latest, latest.kind === 'approved_plan')}
${
  older.length
    ? html`<details><summary>${older.length} plan version(s)</summary>\
${older.map((d) => renderPlan(d, false))}</details>`
    : ''
}`;
}

function artifactList(items: readonly Artifact[], render: (a: Artifact) => SafeHtml): SafeHtml {
  if (items.length === 0) return html`<p class="muted">none</p>`;
  return html`${items.map(
    (a) => html`<article class="artifact" id="artifact-${a.id}">${render(a)}</article>`,
  )}`;
}

function runs(doc: TicketDocument, now: Date): SafeHtml {
  if (doc.runs.length === 0) return html`<p class="muted">no agent runs yet</p>`;
  const rows = doc.runs.map((r) => {
    const end = r.finished_at ?? (r.status === 'running' ? now : null);
    const duration = r.started_at && end ? formatAge(end.getTime() - r.started_at.getTime()) : '-';
    const took =
      r.status === 'running'
        ? html`<span class="age" data-since="${isoOrEmpty(r.started_at)}">${duration}</span>`
        : duration;
    const cost = formatCost(r.cost_usd === null ? null : Number(r.cost_usd)) ?? '-';
    const tokens = `${formatCount(r.tokens_in) ?? '-'} / ${formatCount(r.tokens_out) ?? '-'}`;
    return html`<tr class="run-${r.status}"><td><code>${r.id.slice(0, 8)}</code></td>\
<td>${r.role}</td><td>${r.phase}</td><td class="num">${r.attempt}/${r.round}</td>\
<td>${r.status}</td><td>${r.provider ?? '-'}</td><td>${r.model ?? '-'}</td><td>${took}</td>\
<td class="num">${r.exit_code ?? (r.signal ? r.signal : '-')}</td><td class="num">${cost}</td>\
<td class="num">${tokens}</td><td>${r.error ?? ''}</td></tr>`;
  });
  const columns = head(
    ...['run', 'role', 'phase', 'attempt/round', 'status', 'provider', 'model', 'duration'],
    ...['exit', 'cost', 'tokens in/out', 'error'],
  );
  return html`<div class="scroll"><table class="runs">${columns}\
<tbody>${rows}</tbody></table></div>`;
}

function diff(doc: TicketDocument): SafeHtml {
  const d = doc.diff;
  if (d.unavailable) return html`<p class="muted">${d.unavailable}</p>`;
  const cut = d.truncated ? ' (cut: too long for the page)' : '';
  return html`<p class="muted"><code>${d.range ?? ''}</code>${cut}</p>
${d.text.trim() ? preformatted(d.text, 'diff') : html`<p class="muted">no changes</p>`}`;
}

function transcript(doc: TicketDocument): SafeHtml {
  const t = doc.transcript;
  if (!t) return html``;
  return section(
    'transcript',
    'running agent: transcript tail',
    t.unavailable
      ? html`<p class="muted">${t.unavailable}</p>`
      : html`<pre class="output transcript" id="transcript-tail" data-run="${t.runId}" \
data-size="${t.size}">${t.text}</pre>`,
  );
}

function rejected(doc: TicketDocument): SafeHtml {
  if (doc.view.rejected.length === 0) return html``;
  const rows = doc.view.rejected.map(
    (r) => html`<tr><td>${formatTime(r.at)}</td><td>${r.event}</td><td>${r.state}</td>\
<td>${r.actor}</td><td>${r.reason}</td></tr>`,
  );
  return section(
    'rejected',
    'rejected events',
    html`<div class="scroll"><table>${head('time', 'event', 'state', 'actor', 'reason')}\
<tbody>${rows}</tbody></table></div>`,
    doc.view.rejected.length,
  );
}

/** The document body for one ticket. */
export function renderTicketDocument(doc: TicketDocument, o: TicketRenderOptions = {}): SafeHtml {
  const now = o.now ?? new Date();
  const of = (kind: Artifact['kind']) => doc.artifacts.filter((a) => a.kind === kind);
  const reviews = of('plan_review');
  const reports = of('report');
  const verdicts = of('verdict');
  const handovers = [...of('task'), ...of('note')];
  const gates = of('gate_result');
  const notes = artifactList(handovers, renderText);
  return html`<div class="ticket-doc" id="ticket-doc" data-version="${doc.view.ticket.version}">
${header(doc, o, now)}
${transcript(doc)}
${section('plan', 'plan', plans(doc))}
${section('timeline', 'timeline', timeline(doc), doc.view.timeline.length)}
${section('runs', 'agent runs', runs(doc, now), doc.runs.length)}
${section('gates', 'gates the orchestrator ran', artifactList(gates, renderGate), gates.length)}
${section('critiques', 'critiques', artifactList(reviews, renderReportLike), reviews.length)}
${section('verdicts', 'verdicts', artifactList(verdicts, renderReportLike), verdicts.length)}
${section('reports', 'reports', artifactList(reports, renderReportLike), reports.length)}
${section('handovers', 'handovers and notes', notes, handovers.length)}
${section('diff', 'diff of the ticket branch', diff(doc))}
${rejected(doc)}
</div>`;
}
