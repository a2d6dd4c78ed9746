/**
 * Safe HTML by construction: the `html` tag escapes every interpolated value unless it is already
 * {@link SafeHtml} (the result of another `html` call). Agent output, titles, reasons — anything
 * from the database — can only reach a page as text. Synchronous and allocation-light, so the board
 * for 10,000 tickets renders in a few milliseconds.
 */

/** A string that is known to be markup built by {@link html}. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/**
 * Anything `html` accepts: text is escaped, SafeHtml is kept, arrays are joined, empties vanish.
 */
export type HtmlValue =
  | SafeHtml
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly HtmlValue[];

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/**
 * Build markup; every `${value}` is escaped.
 *
 * @example
 * ```ts
 * html`<p title="${title}">${report.summary}</p>`; // a <script> in the summary stays text
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Join markup fragments. */
export function joinHtml(parts: readonly HtmlValue[]): SafeHtml {
  return new SafeHtml(render(parts));
}
