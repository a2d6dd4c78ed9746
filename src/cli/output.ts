/**
 * The CLI's printing layer: aligned tables and short lines for people, one JSON document on
 * stdout for `--json`. The only place in loopwright that writes to the terminal.
 */
import type { CliIo } from './command.js';
import { jsonDocument, jsonErrorDocument } from './json-contract.js';

/** A table column: a header and how to render a cell. */
export interface Column<Row> {
  readonly header: string;
  readonly value: (row: Row) => unknown;
  /** Right-align (numbers). */
  readonly right?: boolean;
}

/**
 * Print an answer as one JSON document under the contract (json-contract.ts): `schemaVersion`
 * first, camelCase keys, ISO timestamps. Lists are wrapped in an object (`{ tickets: [...] }`).
 */
export function printJson<T extends object>(
  io: CliIo,
  value: T extends readonly unknown[] ? never : T,
): void {
  io.stdout(`${JSON.stringify(jsonDocument(value), null, 2)}\n`);
}

/** Print an error as the contract's JSON document on stderr (`--json` runs). */
export function printJsonError(io: CliIo, code: string, message: string): void {
  io.stderr(`${JSON.stringify(jsonErrorDocument(code, message))}\n`);
}

/** Print one line on stdout. */
export function printLine(io: CliIo, text = ''): void {
  io.stdout(`${text}\n`);
}

/** Print a problem as one line on stderr, prefixed like every CLI message. */
export function printError(io: CliIo, message: string): void {
  io.stderr(`loopwright: ${message}\n`);
}

/**
 * Print rows as an aligned table with a header; `empty` is printed when there are no rows.
 *
 * @example
 * ```ts
 * printTable(io, rows, [
 *   { header: 'KEY', value: (r) => r.key },
 *   { header: 'STATE', value: (r) => r.state },
 * ]);
 * ```
 */
export function printTable<Row>(
  io: CliIo,
  rows: readonly Row[],
  columns: readonly Column<Row>[],
  empty = '(none)',
): void {
  if (rows.length === 0) {
    printLine(io, empty);
    return;
  }
  const cells = rows.map((row) => columns.map((c) => formatCell(c.value(row))));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => r[i]!.length)),
  );
  const render = (values: readonly string[]) =>
    values
      .map((v, i) => (columns[i]!.right ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  printLine(io, render(columns.map((c) => c.header)));
  for (const row of cells) printLine(io, render(row));
}

/** `label: value` lines with the labels aligned. */
export function printFields(io: CliIo, fields: readonly (readonly [string, unknown])[]): void {
  const width = Math.max(...fields.map(([label]) => label.length));
  for (const [label, value] of fields)
    printLine(io, `${`${label}:`.padEnd(width + 1)} ${formatCell(value)}`);
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (value instanceof Date) return formatTime(value);
  if (Array.isArray(value)) return value.length ? value.join(',') : '-';
  return String(value).replace(/\s*\n\s*/g, ' ');
}

/** A timestamp as `YYYY-MM-DD HH:MM:SS` in UTC (stable across machines). */
export function formatTime(value: Date | string | null | undefined): string {
  if (!value) return '-';
  const date = value instanceof Date ? value : new Date(value);
  return date.toISOString().replace('T', ' ').slice(0, 19);
}

/** A duration in ms as `850ms`, `12s`, `4m05s` or `2h03m`. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Cut a text to one line of at most `max` characters. */
export function truncate(text: string, max = 80): string {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
