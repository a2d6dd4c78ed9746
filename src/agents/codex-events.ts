/**
 * Reading `codex exec --json` output: JSONL events (`thread.started`, `turn.started`,
 * `item.*`, `turn.completed` with usage, `turn.failed`, `error`). Success is a completed turn and
 * no failure event. Codex reports tokens but no cost.
 */
import { isCount, isObject, parseObject } from './json-lines.js';
import type { ParsedRun } from './outcome.js';

/**
 * Incremental parser: feed it stdout lines, then read {@link CodexEventParser.parsed}.
 *
 * @example
 * const parser = new CodexEventParser();
 * parser.push('{"type":"turn.completed","usage":{"input_tokens":10,"output_tokens":2}}');
 * parser.parsed(); // { reportedSuccess: true, tokensIn: 10, tokensOut: 2, costUsd: null, ... }
 */
export class CodexEventParser {
  private threadId: string | undefined;
  private completed = false;
  private failure: string | undefined;
  private tokensIn: number | null = null;
  private tokensOut: number | null = null;

  readonly push = (line: string): void => {
    const event = parseObject(line);
    if (!event) return;
    switch (event.type) {
      case 'thread.started':
        if (typeof event.thread_id === 'string') this.threadId = event.thread_id;
        break;
      case 'turn.completed':
        this.completed = true;
        this.addUsage(event.usage);
        break;
      case 'turn.failed':
        this.failure =
          messageOf(isObject(event.error) ? event.error.message : undefined) ??
          this.failure ??
          'turn failed';
        break;
      case 'error':
        this.failure ??= messageOf(event.message) ?? 'codex reported an error';
        break;
    }
  };

  parsed(): ParsedRun {
    const failed = this.failure !== undefined || !this.completed;
    return {
      reportedSuccess: !failed,
      costUsd: null,
      tokensIn: this.tokensIn,
      tokensOut: this.tokensOut,
      ...(this.threadId ? { sessionId: this.threadId } : {}),
      subtype:
        this.failure !== undefined
          ? 'turn.failed'
          : this.completed
            ? 'turn.completed'
            : 'incomplete',
      ...(this.failure !== undefined ? { errorMessage: this.failure } : {}),
    };
  }

  /** `input_tokens` already includes cached input in the Responses API; summed over turns. */
  private addUsage(usage: unknown): void {
    if (!isObject(usage)) return;
    if (isCount(usage.input_tokens)) this.tokensIn = (this.tokensIn ?? 0) + usage.input_tokens;
    if (isCount(usage.output_tokens)) this.tokensOut = (this.tokensOut ?? 0) + usage.output_tokens;
  }
}

/** Codex wraps API errors as a JSON string in `message`; unwrap `{"error":{"message":...}}`. */
function messageOf(raw: unknown): string | undefined {
  if (typeof raw !== 'string' || !raw.trim()) return undefined;
  const inner = parseObject(raw);
  const error = inner && isObject(inner.error) ? inner.error : inner;
  return error && typeof error.message === 'string' ? error.message : raw.trim();
}
