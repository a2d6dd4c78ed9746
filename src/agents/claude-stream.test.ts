import { describe, expect, it } from 'vitest';
import { ClaudeStreamParser } from './claude-stream.js';

function parse(lines: readonly unknown[]) {
  const parser = new ClaudeStreamParser();
  for (const line of lines) parser.push(typeof line === 'string' ? line : JSON.stringify(line));
  return parser.parsed();
}

const init = { type: 'system', subtype: 'init', session_id: 'sess-1' };
const result = {
  type: 'result',
  subtype: 'success',
  is_error: false,
  session_id: 'sess-1',
  total_cost_usd: 0.25,
  usage: {
    input_tokens: 100,
    cache_creation_input_tokens: 20,
    cache_read_input_tokens: 3,
    output_tokens: 40,
  },
};

describe('ClaudeStreamParser', () => {
  it('reads verdict, cost, tokens (cache included) and session from the result line', () => {
    expect(parse([init, 'not json', '', result])).toEqual({
      reportedSuccess: true,
      costUsd: 0.25,
      tokensIn: 123,
      tokensOut: 40,
      sessionId: 'sess-1',
      subtype: 'success',
    });
  });

  it('is not a success without a result line, but keeps the session id', () => {
    expect(parse([init])).toEqual({
      reportedSuccess: false,
      costUsd: null,
      tokensIn: null,
      tokensOut: null,
      sessionId: 'sess-1',
    });
  });

  it('takes the error message from result, then errors', () => {
    expect(parse([{ ...result, is_error: true, result: 'API Error: 400 nope' }])).toMatchObject({
      reportedSuccess: false,
      errorMessage: 'API Error: 400 nope',
    });
    expect(
      parse([
        {
          ...result,
          is_error: true,
          subtype: 'error_max_turns',
          errors: ['Reached maximum number of turns (1)'],
        },
      ]),
    ).toMatchObject({
      reportedSuccess: false,
      subtype: 'error_max_turns',
      errorMessage: 'Reached maximum number of turns (1)',
    });
  });

  it('never calls an error subtype a success, even with is_error false', () => {
    expect(parse([{ ...result, subtype: 'error_max_budget_usd' }]).reportedSuccess).toBe(false);
  });

  it('treats a missing is_error as an error and ignores non-numeric cost and usage', () => {
    const { is_error: _dropped, ...noVerdict } = result;
    expect(
      parse([{ ...noVerdict, total_cost_usd: 'lots', usage: { output_tokens: -1 } }]),
    ).toMatchObject({ reportedSuccess: false, costUsd: null, tokensIn: null, tokensOut: null });
  });
});
