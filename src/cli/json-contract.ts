/**
 * The one JSON contract every `--json` answer follows (README "JSON output"): a single object on
 * stdout with `schemaVersion` first, camelCase keys everywhere, timestamps as ISO strings; under
 * `--json` an error is `{"schemaVersion":1,"error":{"code":"BAD_INPUT","message":"..."}}` on
 * stderr. Views built from database rows (snake_case columns) pass through {@link toContract},
 * which the MCP server and the console reuse so their shapes match the CLI's.
 */

/** Bumped only when a field is renamed or removed; new fields do not bump it. */
export const SCHEMA_VERSION = 1;

/**
 * Keys whose values are data somebody else wrote (a plan, an agent's report, a machine snapshot,
 * environment variable names): passed through verbatim, never renamed.
 */
const VERBATIM_KEYS = new Set(['content', 'payload', 'snapshot', 'env', 'context', 'pins']);

const SNAKE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$/;

/** `base_branch` -> `baseBranch`; anything not lowercase snake_case is returned unchanged. */
export function camelKey(key: string): string {
  if (!SNAKE.test(key)) return key;
  return key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * A value as the contract prints it: snake_case keys renamed to camelCase (deeply, except under
 * {@link VERBATIM_KEYS}), Dates as ISO strings, bigints as strings, undefined members dropped.
 *
 * @example
 * ```ts
 * toContract({ base_branch: 'main', created_at: new Date(0) });
 * // { baseBranch: 'main', createdAt: '1970-01-01T00:00:00.000Z' }
 * ```
 */
export function toContract(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(toContract);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (member === undefined) continue;
    out[camelKey(key)] = VERBATIM_KEYS.has(key) ? plain(member) : toContract(member);
  }
  return out;
}

/** Verbatim data still has to be JSON: Dates and bigints converted, keys untouched. */
function plain(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null',
  );
}

/** The whole document a command prints: `schemaVersion` first, then the answer's fields. */
export function jsonDocument(value: object): Record<string, unknown> {
  if (Array.isArray(value)) throw new TypeError('a JSON answer is an object, not a list');
  return { schemaVersion: SCHEMA_VERSION, ...(toContract(value) as Record<string, unknown>) };
}

/** The document an error becomes under `--json` (on stderr). */
export function jsonErrorDocument(code: string, message: string): Record<string, unknown> {
  return { schemaVersion: SCHEMA_VERSION, error: { code, message } };
}

/** True when the command line asked for JSON (`--json` before any `--`). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}
