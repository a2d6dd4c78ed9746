/**
 * Reading Claude Code's `--output-format stream-json` output: one JSON object per line; the last
 * `{"type":"result"}` line carries the verdict, cost, usage and session id. Lines that are not
 * JSON (or not objects) are ignored rather than trusted.
 */
import { isCount, isFiniteNumber, isObject, parseObject } from './json-lines.js';
import type { ParsedRun } from './outcome.js';

/**
 * Incremental parser: feed it stdout lines, then read {@link ClaudeStreamParser.parsed}.
 *
 * @example
 * const parser = new ClaudeStreamParser();
 * for (const line of stdout.split('\n')) parser.push(line);
 * parser.parsed(); // { reportedSuccess: true, costUsd: 0.0123, tokensIn: 1520, ... }
 */
export class ClaudeStreamParser {
  private result: Record<string, unknown> | undefined;
  private sessionId: string | undefined;

  readonly push = (line: string): void => {
    const event = parseObject(line);
    if (!event) return;
    if (typeof event.session_id === 'string') this.sessionId = event.session_id;
    if (event.type === 'result') this.result = event;
  };

  parsed(): ParsedRun {
    const result = this.result;
    if (!result) {
      // No verdict at all: the outcome falls back to exit code and stderr.
      return {
        reportedSuccess: false,
        costUsd: null,
        tokensIn: null,
        tokensOut: null,
        ...(this.sessionId ? { sessionId: this.sessionId } : {}),
      };
    }
    const usage = isObject(result.usage) ? result.usage : {};
    const subtype = typeof result.subtype === 'string' ? result.subtype : undefined;
    // Some versions report error_max_turns with is_error false; an error subtype is never a
    // success.
    const isError = result.is_error !== false || (subtype?.startsWith('error') ?? false);
    const inputParts = [
      usage.input_tokens,
      usage.cache_creation_input_tokens,
      usage.cache_read_input_tokens,
    ].filter(isCount);
    return {
      reportedSuccess: !isError,
      costUsd: isFiniteNumber(result.total_cost_usd) ? result.total_cost_usd : null,
      tokensIn: inputParts.length > 0 ? inputParts.reduce((a, b) => a + b, 0) : null,
      tokensOut: isCount(usage.output_tokens) ? usage.output_tokens : null,
      ...(this.sessionId ? { sessionId: this.sessionId } : {}),
      ...(subtype ? { subtype } : {}),
      ...(isError ? { errorMessage: resultErrorMessage(result, subtype) } : {}),
    };
  }
}

function resultErrorMessage(result: Record<string, unknown>, subtype: string | undefined): string {
  if (typeof result.result === 'string' && result.result.trim()) return result.result.trim();
  if (Array.isArray(result.errors) && result.errors.length > 0)
    return result.errors.map(String).join('; ');
  return `agent reported an error${subtype ? ` (${subtype})` : ''}`;
}
