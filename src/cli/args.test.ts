import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import { expectPositionals, nonBlank, parseCommandArgs, parseInteger, parseList } from './args.js';

describe('parseInteger', () => {
  it('accepts signed integers within bounds', () => {
    expect(parseInteger('--n', '42')).toBe(42);
    expect(parseInteger('--n', '-7', { min: -10 })).toBe(-7);
    expect(parseInteger('--n', undefined)).toBeUndefined();
  });

  it.each(['abc', '1.5', '1e3', '', ' ', '0x10', '99999999999999999999'])('rejects %j', (raw) => {
    expect(() => parseInteger('--n', raw)).toThrow(BadInputError);
  });

  it('rejects values out of bounds, naming them', () => {
    expect(() => parseInteger('--concurrency', '0', { min: 1, max: 64 })).toThrow(
      '--concurrency must be between 1 and 64, got 0',
    );
  });
});

describe('parseList', () => {
  it('splits comma lists across repeated flags, trims and de-duplicates', () => {
    expect(parseList(['a,b', ' c ', 'a', ',,'])).toEqual(['a', 'b', 'c']);
    expect(parseList('x')).toEqual(['x']);
    expect(parseList(undefined)).toEqual([]);
  });
});

describe('parseCommandArgs', () => {
  it('always understands --json and --help', () => {
    const { values, positionals } = parseCommandArgs(['a', '--json', '--repo', 'r'], {
      repo: { type: 'string' },
    });
    expect(values).toMatchObject({ json: true, repo: 'r' });
    expect(positionals).toEqual(['a']);
  });

  it('turns parseArgs errors into one-line bad input', () => {
    expect(() => parseCommandArgs(['--nope'], {})).toThrow(
      new BadInputError("unknown option '--nope'"),
    );
    expect(() => parseCommandArgs(['--repo'], { repo: { type: 'string' } })).toThrow(
      "option '--repo <value>' argument missing",
    );
  });
});

describe('expectPositionals and nonBlank', () => {
  it('name the missing or unexpected argument', () => {
    expect(() => expectPositionals([], ['<ticket>'])).toThrow('missing <ticket>');
    expect(() => expectPositionals(['a', 'b'], ['<ticket>'])).toThrow('unexpected argument: b');
    expect(expectPositionals([], ['<ticket>'], 1)).toEqual([]);
    expect(() => nonBlank('--title', ' ')).toThrow('--title must not be empty');
  });
});
