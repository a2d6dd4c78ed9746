/**
 * The page shell: navigation, the stylesheet and the one script, both served as files so the
 * Content-Security-Policy can forbid every inline script and style.
 */
import { html, type HtmlValue, type SafeHtml } from '../html.js';

export interface PageOptions {
  readonly title: string;
  /** `board`, `ticket`, `attention`, `batches`, `batch`: what the page script patches live. */
  readonly page: string;
  readonly body: HtmlValue;
  /** data-* attributes on <body> the page script reads (filters, ticket key). */
  readonly data?: Readonly<Record<string, string | null | undefined>>;
  /** Tickets waiting for a person (shown in the navigation). */
  readonly attention?: number;
  /** A one-line message about the last action (from the flash cookie). */
  readonly flash?: { readonly ok: boolean; readonly text: string } | null;
}

const DATA_NAME = /^[a-z][a-z0-9-]*$/;

export function renderPage(o: PageOptions): SafeHtml {
  const data = Object.entries(o.data ?? {})
    .filter(([name, value]) => DATA_NAME.test(name) && value !== null && value !== undefined)
    .map(([name, value]) => html` data-${name}="${value!}"`);
  const badge = o.attention
    ? html` <span class="badge" id="attention-count">${o.attention}</span>`
    : '';
  const flash = o.flash
    ? html`<p class="flash ${o.flash.ok ? 'ok' : 'refused'}" role="status">${o.flash.text}</p>`
    : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · loopwright</title>
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/console.js" defer></script>
</head>
<body data-page="${o.page}"${data}>
<header class="top">
  <a class="brand" href="/">loopwright</a>
  <nav>
    <a href="/">board</a>
    <a href="/attention">needs a person${badge}</a>
    <a href="/batches">batches</a>
  </nav>
  <span class="live" id="live-status" title="live updates">offline</span>
</header>
${flash}
<main id="main">
${o.body}
</main>
</body>
</html>
`;
}
