import { describe, expect, it } from 'vitest';
import { CodexEventParser } from './codex-events.js';

function parse(events: readonly unknown[]) {
  const parser = new CodexEventParser();
  for (const event of events) parser.push(JSON.stringify(event));
  return parser.parsed();
}

const started = { type: 'thread.started', thread_id: 'thread-1' };
const completed = (input: number, output: number) => ({
  type: 'turn.completed',
  usage: { input_tokens: input, cached_input_tokens: 7, output_tokens: output },
});

describe('CodexEventParser', () => {
  it('succeeds on a completed turn and sums usage (cached input is part of input)', () => {
    expect(
      parse([started, { type: 'turn.started' }, completed(100, 10), completed(50, 5)]),
    ).toEqual({
      reportedSuccess: true,
      costUsd: null,
      tokensIn: 150,
      tokensOut: 15,
      sessionId: 'thread-1',
      subtype: 'turn.completed',
    });
  });

  it('fails on turn.failed and unwraps the API error message', () => {
    const message = JSON.stringify({
      error: { type: 'invalid_request_error', message: 'model not found' },
    });
    expect(
      parse([started, { type: 'error', message }, { type: 'turn.failed', error: { message } }]),
    ).toMatchObject({
      reportedSuccess: false,
      subtype: 'turn.failed',
      errorMessage: 'model not found',
    });
  });

  it('fails on a top-level error even after a completed turn', () => {
    expect(
      parse([started, completed(1, 1), { type: 'error', message: 'stream disconnected' }]),
    ).toMatchObject({ reportedSuccess: false, errorMessage: 'stream disconnected' });
  });

  it('is not a success when no turn completed', () => {
    expect(parse([started, { type: 'turn.started' }])).toMatchObject({
      reportedSuccess: false,
      subtype: 'incomplete',
    });
  });

  it('does not treat an error item (a warning) as a failure', () => {
    const warning = {
      type: 'item.completed',
      item: { id: 'item_0', type: 'error', message: 'Model metadata not found' },
    };
    expect(parse([started, warning, completed(1, 1)]).reportedSuccess).toBe(true);
  });
});
