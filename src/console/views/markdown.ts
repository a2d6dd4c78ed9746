/**
 * A deliberately small Markdown subset for plans, ticket bodies and notes: headings, bullet and
 * numbered lists, fenced code, paragraphs and inline `code`. Every character of the source is
 * escaped first — there is no raw-HTML pass-through, no links, no images — so agent-written text
 * can shape a document but never inject markup.
 */
import { escapeHtml, html, SafeHtml } from '../html.js';

function inline(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

/**
 * Render Markdown text as safe HTML. Headings are shifted down by `headingOffset` levels (a plan's
 * `#` sits below the page's own headings).
 *
 * @example
 * ```ts
 * renderMarkdown('# Goal\n- add `x`\n<script>alert(1)</script>'); // the script stays text
 * ```
 */
export function renderMarkdown(source: string, headingOffset = 2): SafeHtml {
  const out: string[] = [];
  let paragraph: string[] = [];
  let list: { tag: 'ul' | 'ol'; items: string[] } | null = null;
  let fence: string[] | null = null;
  const flush = () => {
    if (paragraph.length) out.push(`<p>${paragraph.map(inline).join('<br>')}</p>`);
    paragraph = [];
    if (list)
      out.push(`<${list.tag}>${list.items.map((i) => `<li>${i}</li>`).join('')}</${list.tag}>`);
    list = null;
  };
  for (const line of source.replace(/\r\n?/g, '\n').split('\n')) {
    if (fence) {
      if (/^\s*```/.test(line)) {
        out.push(`<pre class="code">${escapeHtml(fence.join('\n'))}</pre>`);
        fence = null;
      } else fence.push(line);
      continue;
    }
    if (/^\s*```/.test(line)) {
      flush();
      fence = [];
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      const level = Math.min(6, heading[1]!.length + headingOffset);
      out.push(`<h${level}>${inline(heading[2]!)}</h${level}>`);
    } else if (bullet || numbered) {
      const tag = bullet ? 'ul' : 'ol';
      if (paragraph.length || (list && list.tag !== tag)) flush();
      list ??= { tag, items: [] };
      list.items.push(inline((bullet ?? numbered)![1]!));
    } else if (line.trim() === '') {
      flush();
    } else {
      if (list) flush();
      paragraph.push(line);
    }
  }
  if (fence) out.push(`<pre class="code">${escapeHtml(fence.join('\n'))}</pre>`);
  flush();
  return new SafeHtml(out.join('\n'));
}

/** Preformatted text, escaped (logs, JSON, command output). */
export function preformatted(text: string, className = 'output'): SafeHtml {
  return html`<pre class="${className}">${text}</pre>`;
}
