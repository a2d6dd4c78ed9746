import { describe, expect, it } from 'vitest';
import {
  camelKey,
  jsonDocument,
  jsonErrorDocument,
  toContract,
  wantsJson,
} from './json-contract.js';

describe('the JSON contract', () => {
  it('renames lowercase snake_case keys deeply and leaves other keys alone', () => {
    expect(camelKey('base_branch')).toBe('baseBranch');
    expect(camelKey('check_cmds')).toBe('checkCmds');
    expect(camelKey('OPENAI_BASE_URL')).toBe('OPENAI_BASE_URL');
    expect(camelKey('schemaVersion')).toBe('schemaVersion');
    expect(camelKey('_private')).toBe('_private');
    expect(
      toContract({ run_id: 'r1', runs: [{ cost_usd: 1, started_at: new Date(0) }], n: 5n }),
    ).toEqual({
      runId: 'r1',
      runs: [{ costUsd: 1, startedAt: '1970-01-01T00:00:00.000Z' }],
      n: '5',
    });
  });

  it('keeps data somebody else wrote verbatim and drops undefined members', () => {
    expect(
      toContract({ payload: { allowed_files: ['a'] }, env: { my_var: 'x' }, gone: undefined }),
    ).toEqual({ payload: { allowed_files: ['a'] }, env: { my_var: 'x' } });
  });

  it('puts schemaVersion first and refuses a bare list', () => {
    expect(Object.keys(jsonDocument({ a_b: 1 }))).toEqual(['schemaVersion', 'aB']);
    expect(() => jsonDocument([1])).toThrow(/object, not a list/);
    expect(jsonErrorDocument('BAD_INPUT', 'no')).toEqual({
      schemaVersion: 1,
      error: { code: 'BAD_INPUT', message: 'no' },
    });
  });

  it('sees --json only before a --', () => {
    expect(wantsJson(['show', 'a-1', '--json'])).toBe(true);
    expect(wantsJson(['psql', '--', '--json'])).toBe(false);
  });
});
