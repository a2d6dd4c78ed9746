/**
 * Log lines for people: one pino JSON record becomes one line, who it is about first.
 *
 *   23:00:31 INFO  demo-1 run 7c928f3d [demo] Agent run evaluated  event=PLAN_READY ms=157
 *
 * The record has already been through pino's redaction, so nothing secret can appear here
 * that the JSON line would not show.
 */

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

const COLORS: Record<number, string> = { 20: '90', 40: '33', 50: '31', 60: '31' };

/** Fields shown in the line's head (or not at all), never repeated as `key=value`. */
const HEAD = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'ticket', 'run', 'repo']);

const MAX_VALUE = 200;

/**
 * One JSON record as a readable line (with its newline); a line that is not JSON is returned
 * unchanged.
 *
 * @example
 * ```ts
 * prettyLine('{"level":40,"time":0,"msg":"Runner ended","code":"57P01"}\n');
 * // '00:00:00 WARN  Runner ended  code=57P01\n'
 * ```
 */
export function prettyLine(json: string, color = false): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = typeof record.level === 'number' ? record.level : 30;
  const name = (LEVELS[level] ?? String(level)).padEnd(5);
  const time = typeof record.time === 'number' ? new Date(record.time) : new Date();
  const head = [time.toISOString().slice(11, 19), paint(name, COLORS[level], color)];
  if (typeof record.ticket === 'string') head.push(record.ticket);
  if (typeof record.run === 'string') head.push(`run ${record.run.slice(0, 8)}`);
  if (typeof record.repo === 'string') head.push(`[${record.repo}]`);
  head.push(String(record.msg ?? ''));
  const rest = Object.entries(record)
    .filter(([key, value]) => !HEAD.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  return `${head.join(' ')}${rest.length ? `  ${rest.join(' ')}` : ''}\n`;
}

function formatValue(value: unknown): string {
  if (value !== null && typeof value === 'object' && 'message' in value)
    return quote(String((value as { message: unknown }).message));
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const flat = text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
  return typeof value === 'string' ? quote(flat) : flat;
}

/** Quoted only when needed to keep `key=value` pairs apart. */
function quote(text: string): string {
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text.replace(/\s*\n\s*/g, ' '));
}

function paint(text: string, code: string | undefined, color: boolean): string {
  return color && code ? `\x1b[${code}m${text}\x1b[0m` : text;
}
