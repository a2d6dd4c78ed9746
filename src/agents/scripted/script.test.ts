import { describe, expect, it } from 'vitest';
import { findStep, identityFromEnv, ScriptSchema } from './script.js';

const script = ScriptSchema.parse({
  steps: [
    { match: { ticket: 'LW-1', phase: 'RED' }, report: 'red' },
    { match: { title: 'login', attempt: 2 }, report: 'retry' },
    { match: {}, report: 'fallback' },
  ],
});

describe('scripted agent script', () => {
  it('plays the first step whose every given field matches (title by substring)', () => {
    expect(findStep(script, { ticket: 'LW-1', phase: 'RED' })?.report).toBe('red');
    expect(
      findStep(script, { ticket: 'LW-1', phase: 'BUILD', title: 'Fix the login page', attempt: 2 })
        ?.report,
    ).toBe('retry');
    expect(findStep(script, { title: 'Fix the login page', attempt: 1 })?.report).toBe('fallback');
  });

  it('finds nothing when no step matches', () => {
    const strict = ScriptSchema.parse({ steps: [{ match: { role: 'validator' } }] });
    expect(findStep(strict, { role: 'generator' })).toBeUndefined();
  });

  it('reads the identity from LOOPWRIGHT_* variables, numbers as numbers', () => {
    expect(
      identityFromEnv({
        LOOPWRIGHT_TICKET: 'LW-1',
        LOOPWRIGHT_ATTEMPT: '2',
        LOOPWRIGHT_ROUND: '',
        LOOPWRIGHT_ROLE: 'lead',
      }),
    ).toEqual({ ticket: 'LW-1', attempt: 2, role: 'lead' });
  });

  it('rejects unknown step fields and bad types', () => {
    expect(ScriptSchema.safeParse({ steps: [{ hang: 'yes' }] }).success).toBe(false);
    expect(ScriptSchema.safeParse({ steps: [{ wirte: {} }] }).success).toBe(false);
  });
});
