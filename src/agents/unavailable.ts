/**
 * Telling "the agent could not work at all" from "the agent worked and got it wrong". An agent
 * whose binary is missing, whose credentials are refused, or whose model cannot be reached never
 * did the task: that is AGENT_UNAVAILABLE (a person must fix the setup), not a contract violation
 * that a fresh agent could fix. The same reading tells progress from noise (reconnect messages) for
 * the stall timer.
 */

/** What one output line says about the run. */
export type LineVerdict =
  | { readonly kind: 'progress' }
  /**
   * Reconnect and retry chatter: the agent is alive but not advancing; does not reset the stall
   * timer.
   */
  | { readonly kind: 'noise' }
  /** The run cannot succeed: stop it now. */
  | { readonly kind: 'unavailable'; readonly why: string };

const PROGRESS: LineVerdict = { kind: 'progress' };
const NOISE: LineVerdict = { kind: 'noise' };

/** One case-insensitive alternation of `parts` (kept short per line). */
function anyOf(parts: readonly RegExp[]): RegExp {
  return new RegExp(parts.map((p) => p.source).join('|'), 'i');
}

/** Words the CLIs use when credentials are missing or refused. */
const AUTH = anyOf([
  /not logged in|please run \/login|invalid api key|incorrect api key/,
  /authentication[_ ](?:error|failed)|\b401\b|unauthorized|\b403\b|forbidden/,
  /oauth token (?:has )?expired|missing (?:environment variable|api key)|OPENAI_API_KEY/,
  /credit balance is too low/,
]);
/** Words the CLIs use when the model cannot be reached. */
const NETWORK = anyOf([
  /waiting for network|connection (?:refused|error|failed)|ECONNREFUSED|ENOTFOUND|EAI_AGAIN/,
  /name does not resolve|failed to lookup address|getaddrinfo|network is unreachable/,
  /could not resolve host|fetch failed/,
]);
/** Retry chatter: alive, not advancing. */
const RETRY = /reconnecting|retrying|api_retry|failed to connect|falling back from websockets/i;

/**
 * Classify one line of an agent's stdout or stderr.
 *
 * @example
 * ```ts
 * classifyAgentLine('{"type":"system","subtype":"api_retry","error_status":401}', 'stdout');
 * // { kind: 'unavailable', why: 'the model API refused the credentials (HTTP 401)' }
 * ```
 */
export function classifyAgentLine(line: string, stream: 'stdout' | 'stderr'): LineVerdict {
  const trimmed = line.trim();
  if (!trimmed) return NOISE;
  const event = parseJsonObject(trimmed);
  if (event) return classifyEvent(event);
  if (stream === 'stderr' && RETRY.test(trimmed)) return NOISE;
  return PROGRESS;
}

function classifyEvent(event: Record<string, unknown>): LineVerdict {
  // Claude Code:
  // {"type":"system","subtype":"api_retry","error_status":401,"error":"authentication_failed"}
  if (event.type === 'system' && event.subtype === 'api_retry') {
    const status = event.error_status;
    if (status === 401 || status === 403 || event.error === 'authentication_failed')
      return {
        kind: 'unavailable',
        why:
          `the model API refused the credentials ` +
          `(HTTP ${typeof status === 'number' ? status : 401})`,
      };
    return NOISE;
  }
  // Codex: {"type":"error","message":"Reconnecting... 2/5 (unexpected status 401 Unauthorized
  // ...)"}
  if (event.type === 'error' && typeof event.message === 'string') {
    const message = event.message;
    if (/\b40[13]\b|unauthorized|incorrect api key/i.test(message))
      return {
        kind: 'unavailable',
        why: `the model API refused the credentials: ${clip(message)}`,
      };
    if (/waiting for network/i.test(message))
      return { kind: 'unavailable', why: `the model cannot be reached: ${clip(message)}` };
    if (RETRY.test(message)) return NOISE;
  }
  return PROGRESS;
}

/**
 * Whether a finished run's own error text says it never reached the model: the reason, in a few
 * words, or null for an ordinary failure.
 */
export function unavailableReason(text: string | undefined): string | null {
  if (!text) return null;
  if (AUTH.test(text)) return `no usable credentials: ${clip(text)}`;
  if (NETWORK.test(text)) return `the model cannot be reached: ${clip(text)}`;
  return null;
}

/** An ENOENT/EACCES from spawn: the program is not there (or not runnable). */
export function missingBinaryReason(failure: string | undefined): string | null {
  if (!failure) return null;
  if (/ENOENT|EACCES|not found|no such file/i.test(failure))
    return `cannot start: ${clip(failure)}`;
  return null;
}

function parseJsonObject(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function clip(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
