import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import { chooseLogging } from './log-options.js';
import { prettyLine } from './pretty.js';

const at = Date.UTC(2026, 11, 1, 23, 0, 31, 435);

describe('prettyLine', () => {
  it('puts time, level, ticket, run and repo first, then the message and the other fields', () => {
    const line = prettyLine(
      JSON.stringify({
        level: 30,
        time: at,
        pid: 7,
        ticket: 'demo-1',
        run: '7c928f3d-c446-46ca-a957-9575e43f9970',
        repo: 'demo',
        event: 'PLAN_READY',
        ms: 157,
        msg: 'Agent run evaluated',
      }),
    );
    expect(line).toBe(
      '23:00:31 INFO  demo-1 run 7c928f3d [demo] Agent run evaluated  event=PLAN_READY ms=157\n',
    );
  });

  it('quotes values with spaces, shows an error by its message and cuts long values', () => {
    const line = prettyLine(
      JSON.stringify({
        level: 50,
        time: at,
        msg: 'Runner ended',
        reason: 'connection refused',
        err: { type: 'Error', message: 'boom\n  at x', stack: 'Error: boom\n  at x' },
        output: 'x'.repeat(500),
      }),
    );
    expect(line).toMatch(
      /^23:00:31 ERROR Runner ended {2}reason="connection refused" err="boom at x" /,
    );
    expect(line).toContain(`output=${'x'.repeat(199)}…`);
    expect(line).not.toContain('stack');
  });

  it('colours the level only when asked, and leaves a line that is not JSON alone', () => {
    expect(prettyLine(JSON.stringify({ level: 40, time: at, msg: 'm' }), true)).toBe(
      '23:00:31 \x1b[33mWARN \x1b[0m m\n',
    );
    expect(prettyLine('not json\n')).toBe('not json\n');
  });
});

describe('chooseLogging', () => {
  it('takes the flag over the variable over the default', () => {
    const env = { LOOPWRIGHT_LOG_LEVEL: 'debug', LOOPWRIGHT_LOG_FORMAT: 'pretty' };
    expect(chooseLogging({ 'log-level': 'error' }, env, 'info')).toEqual({
      level: 'error',
      format: 'pretty',
      formatChosen: true,
    });
    expect(chooseLogging({}, {}, 'info')).toMatchObject({ level: 'info', formatChosen: false });
  });

  it('refuses a value it does not know, naming the source and the allowed values', () => {
    expect(() => chooseLogging({ 'log-format': 'xml' }, {}, 'info')).toThrow(
      new BadInputError('--log-format must be one of pretty, json, got "xml"'),
    );
    expect(() => chooseLogging({}, { LOOPWRIGHT_LOG_LEVEL: 'loud' }, 'info')).toThrow(
      /^LOOPWRIGHT_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent/,
    );
  });
});
