/**
 * `loopwright show <ticket> --html`: the console's ticket document as one standalone file — the
 * stylesheet inlined, no script, no buttons, and a Content-Security-Policy that forbids scripts
 * and every network fetch, so the file is as inert as it looks wherever it is opened.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { staticDir } from './static-dir.js';
import { html, SafeHtml } from './html.js';
import type { TicketDocument } from './ticket-document.js';
import { renderTicketDocument } from './views/ticket.js';

const EXPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/** The whole HTML file for one ticket. */
export function exportTicketHtml(doc: TicketDocument, now = new Date()): string {
  const css = readFileSync(path.join(staticDir(), 'console.css'), 'utf8').replace(/<\//g, '<\\/');
  const t = doc.view.ticket;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${EXPORT_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t.key} ${t.title} · loopwright</title>
<style>${new SafeHtml(css)}</style>
</head>
<body data-page="export">
<main id="main">
${renderTicketDocument(doc, { now })}
<p class="muted">exported by loopwright on ${now.toISOString()}</p>
</main>
</body>
</html>
`.value;
}
