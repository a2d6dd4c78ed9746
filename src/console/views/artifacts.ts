/**
 * Artifacts as documents: the plan (goal, acceptance criteria, allowed and test files, notes), a
 * critique, a report, a verdict, a gate's result with its output. Their content is JSON an agent
 * (untrusted) or the orchestrator wrote; it is parsed leniently and anything unexpected is shown as
 * escaped text, never trusted as markup.
 */
import type { Artifact } from '../../db/artifacts.js';
import { html, type SafeHtml } from '../html.js';
import { formatTime } from './format.js';
import { preformatted, renderMarkdown } from './markdown.js';

type Json = Record<string, unknown>;

function parseJson(content: string): Json | null {
  try {
    const value: unknown = JSON.parse(content);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null;
  } catch {
    return null;
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function fileList(title: string, files: unknown): SafeHtml {
  const items = list(files).filter((f): f is string => typeof f === 'string');
  if (items.length === 0) return html``;
  const entries = items.map((f) => html`<li><code>${f}</code></li>`);
  return html`<h4>${title}</h4><ul class="files">${entries}</ul>`;
}

/** A plan as a document; `sha256` is shown for the frozen (approved) copy. */
export function renderPlan(a: Artifact, frozen: boolean): SafeHtml {
  const plan = parseJson(a.content);
  const sha = html`sha256 <code class="sha">${a.sha256}</code>`;
  const heading = frozen
    ? html`<p class="frozen">frozen plan · artifact ${a.id} · ${sha}</p>`
    : html`<p class="muted">plan draft · artifact ${a.id} · ${formatTime(a.created_at)} · \
${sha}</p>`;
  if (!plan) return html`${heading}${preformatted(a.content)}`;
  const criteria = list(plan.acceptanceCriteria).map((c) => {
    const entry = (c && typeof c === 'object' ? c : {}) as Json;
    return html`<li><strong>${str(entry.name) ?? '(unnamed)'}</strong><br>\
<span class="muted">test:</span> ${str(entry.test) ?? '-'}</li>`;
  });
  const testCommand = str(plan.testCommand);
  return html`<div class="plan">${heading}
<h4>Goal</h4>${renderMarkdown(str(plan.goal) ?? '', 3)}
<h4>Acceptance criteria</h4><ol class="criteria">${criteria}</ol>
${fileList('Allowed files', plan.allowedFiles)}
${fileList('Test files', plan.testFiles)}
${
  testCommand
    ? html`<h4>Test command (the repository's command is what the gates run)</h4>\
<p><code>${testCommand}</code></p>`
    : ''
}
${str(plan.notes) ? html`<h4>Notes</h4>${renderMarkdown(str(plan.notes)!, 4)}` : ''}
</div>`;
}

function bulletList(title: string, items: unknown): SafeHtml {
  const texts = list(items).map((i) =>
    typeof i === 'string'
      ? i
      : i && typeof i === 'object'
        ? Object.values(i as Json)
            .filter((v) => typeof v === 'string')
            .join(' — ')
        : String(i),
  );
  if (texts.length === 0) return html``;
  return html`<h4>${title}</h4><ul>${texts.map((t) => html`<li>${t}</li>`)}</ul>`;
}

/** A critique, report or verdict: summary, verdict, lists, and the raw JSON folded away. */
export function renderReportLike(a: Artifact): SafeHtml {
  const r = parseJson(a.content);
  const run = a.run_id ? html` · run <code>${a.run_id.slice(0, 8)}</code>` : '';
  const meta = html`<p class="muted">${a.kind.replace('_', ' ')} · artifact ${a.id} · \
${formatTime(a.created_at)}${run}</p>`;
  if (!r) return html`${meta}${preformatted(a.content)}`;
  const verdict = str(r.verdict);
  return html`${meta}
${verdict ? html`<p class="verdict v-${verdict}">${verdict}</p>` : ''}
${str(r.summary) ? html`<p>${str(r.summary)!}</p>` : ''}
${str(r.rationale) ? html`<h4>Rationale</h4><p>${str(r.rationale)!}</p>` : ''}
${bulletList('Critiques', r.critiques)}
${bulletList('Findings', r.findings)}
${bulletList('Evidence', r.evidence)}
${bulletList('Files changed', r.filesChanged)}
${bulletList(
  'Discovered work',
  list(r.discoveredWork).map((d) => (d as Json)?.title ?? d),
)}
<details><summary>raw JSON</summary>${preformatted(JSON.stringify(r, null, 2))}</details>`;
}

/** A gate the orchestrator ran: command, result, output. */
export function renderGate(a: Artifact): SafeHtml {
  const g = parseJson(a.content) ?? {};
  const gate = str(g.gate) ?? '?';
  const passed = g.passed === true;
  const expected = gate === 'RED' ? !passed : passed;
  const result =
    gate === 'RED'
      ? passed
        ? 'passed: not RED'
        : 'failed, as RED requires'
      : passed
        ? 'passed'
        : 'FAILED';
  const facts = [
    str(g.command) ? html`<code>${str(g.command)!}</code>` : null,
    typeof g.exitCode === 'number' ? `exit ${g.exitCode}` : null,
    typeof g.durationMs === 'number' ? `${(g.durationMs / 1000).toFixed(1)} s` : null,
    str(g.commit) ? html`on <code>${str(g.commit)!.slice(0, 10)}</code>` : null,
  ].filter((f) => f !== null);
  const output = str(g.output);
  return html`<div class="gate ${expected ? 'good' : 'bad'}">
<p><strong>${gate}</strong> <span class="result">${result}</span> · \
${formatTime(a.created_at)}${facts.map((f) => html` · ${f}`)}</p>
${output ? html`<details><summary>output</summary>${preformatted(output)}</details>` : ''}
</div>`;
}

/** A handover (task file) or note: Markdown text. */
export function renderText(a: Artifact): SafeHtml {
  return html`<p class="muted">${a.kind} · artifact ${a.id} · ${formatTime(a.created_at)}</p>
<div class="prose">${renderMarkdown(a.content, 3)}</div>`;
}
