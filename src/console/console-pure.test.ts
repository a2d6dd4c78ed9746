/**
 * The console's pure pieces: escaping, the Markdown subset, the origin and back-path checks, the
 * action form, and which buttons a state offers.
 */
import { describe, expect, it } from 'vitest';
import { parseActionForm } from './actions.js';
import { escapeHtml, html } from './html.js';
import { isLoopbackHost, safeBackPath, sameOrigin, sameSecret } from './security.js';
import { actionsFor } from './views/actions.js';
import { renderMarkdown } from './views/markdown.js';

describe('html', () => {
  it('escapes every interpolated value and keeps nested markup', () => {
    const evil = `<script>alert("x")</script>'&`;
    const out = html`<p title="${evil}">${evil}${html`<b>${evil}</b>`}${[evil, null, false]}</p>`
      .value;
    expect(out).not.toContain('<script>');
    expect(out).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;');
    expect(out).toContain('<b>&lt;script&gt;');
    expect(escapeHtml('"\'<>&')).toBe('&quot;&#39;&lt;&gt;&amp;');
  });
});

describe('renderMarkdown', () => {
  it('renders headings, lists, code and paragraphs and never raw HTML', () => {
    const out = renderMarkdown(
      '# Goal\nAdd `x` <img src=x onerror=alert(1)>\n\n- one\n- two <script>\n\n1. ' +
        'first\n\n```\n<b>code</b>\n```',
    ).value;
    expect(out).toContain('<h3>Goal</h3>');
    expect(out).toContain('<code>x</code>');
    expect(out).toContain('<ul><li>one</li><li>two &lt;script&gt;</li></ul>');
    expect(out).toContain('<ol><li>first</li></ol>');
    expect(out).toContain('<pre class="code">&lt;b&gt;code&lt;/b&gt;</pre>');
    expect(out).not.toMatch(/<img|<script|<b>/);
  });

  it('keeps backticks from smuggling markup', () => {
    expect(renderMarkdown('`<script>`').value).toBe('<p><code>&lt;script&gt;</code></p>');
  });
});

describe('security checks', () => {
  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.3.4.5', 'localhost', '::1', '[::1]'])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', '::', 'example.com', '127.0.0.1.nip.io'])
      expect(isLoopbackHost(h)).toBe(false);
  });

  it('accepts only this origin, by Origin or Referer', () => {
    const host = '127.0.0.1:7420';
    expect(sameOrigin({ host, origin: 'http://127.0.0.1:7420' })).toBe(true);
    expect(sameOrigin({ host, referer: 'http://127.0.0.1:7420/attention' })).toBe(true);
    expect(sameOrigin({ host, origin: 'http://127.0.0.1:7421' })).toBe(false);
    expect(sameOrigin({ host, origin: 'null' })).toBe(false);
    expect(sameOrigin({ host, origin: 'http://127.0.0.1:7420', secFetchSite: 'same-site' })).toBe(
      false,
    );
    expect(sameOrigin({ host })).toBe(false);
    expect(sameOrigin({ host, referer: 'not a url' })).toBe(false);
  });

  it('returns only to local paths', () => {
    expect(safeBackPath('/attention', '/')).toBe('/attention');
    expect(safeBackPath('/tickets/app-3', '/')).toBe('/tickets/app-3');
    for (const bad of [
      '//evil.example',
      '/\\evil.example',
      'https://evil.example',
      'javascript:alert(1)',
      '/a"b',
      7,
    ])
      expect(safeBackPath(bad, '/x')).toBe('/x');
  });

  it('compares secrets of different lengths without throwing', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abcd', 'abc')).toBe(false);
    expect(sameSecret('', 'abc')).toBe(false);
    expect(sameSecret(undefined, 'abc')).toBe(false);
  });
});

describe('actions', () => {
  it('offers the buttons each state accepts', () => {
    expect(actionsFor('SHIP', 'awaiting_approval')).toEqual(['approve', 'reject', 'cancel']);
    expect(actionsFor('ESCALATED', null)).toEqual(['approve', 'retry', 'reject', 'cancel']);
    expect(actionsFor('DEAD_LETTER', null)).toEqual(['retry', 'cancel']);
    expect(actionsFor('LIVE', null)).toEqual([]);
    expect(actionsFor('BUILD', null)).toEqual(['replay', 'cancel']);
  });

  it('parses a form strictly', () => {
    expect(parseActionForm({ action: 'approve', version: '7', reason: ' ok ' })).toEqual({
      action: 'approve',
      version: 7,
      reason: 'ok',
    });
    expect(parseActionForm({ action: 'approve', version: '7' })).toEqual({
      action: 'approve',
      version: 7,
      reason: null,
    });
    expect(parseActionForm({ action: 'APPROVE', version: '7' })).toHaveProperty('error');
    expect(parseActionForm({ action: 'approve', version: '0' })).toHaveProperty('error');
    expect(parseActionForm({ action: 'approve', version: '1e3' })).toHaveProperty('error');
    expect(
      parseActionForm({ action: 'approve', version: '7', reason: 'x'.repeat(501) }),
    ).toHaveProperty('error');
  });
});
