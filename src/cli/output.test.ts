import { describe, expect, it } from 'vitest';
import type { CliIo } from './command.js';
import { formatDuration, formatTime, printJson, printTable, truncate } from './output.js';

function capture(): CliIo & { out: () => string } {
  let out = '';
  return { stdout: (s) => void (out += s), stderr: () => {}, env: {}, cwd: '/', out: () => out };
}

describe('printTable', () => {
  it('aligns columns, right-aligns numbers and shows blanks as -', () => {
    const io = capture();
    printTable(
      io,
      [
        { k: 'app-1', n: 5, t: null },
        { k: 'app-10', n: 12, t: ['a', 'b'] },
      ],
      [
        { header: 'KEY', value: (r) => r.k },
        { header: 'N', value: (r) => r.n, right: true },
        { header: 'TAGS', value: (r) => r.t },
      ],
    );
    expect(io.out()).toBe('KEY      N  TAGS\napp-1    5  -\napp-10  12  a,b\n');
  });

  it('prints the empty text when there are no rows', () => {
    const io = capture();
    printTable(io, [], [{ header: 'X', value: () => 1 }], '(none)');
    expect(io.out()).toBe('(none)\n');
  });
});

describe('formatting', () => {
  it('formats durations, times and long text', () => {
    expect([
      formatDuration(850),
      formatDuration(12_400),
      formatDuration(245_000),
      formatDuration(7_380_000),
      formatDuration(null),
    ]).toEqual(['850ms', '12s', '4m05s', '2h03m', '-']);
    expect(formatTime(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02 03:04:05');
    expect(truncate('a\nb', 10)).toBe('a b');
    expect(truncate('abcdefghijkl', 5)).toBe('abcd…');
  });

  it('prints one JSON document with bigints as strings', () => {
    const io = capture();
    printJson(io, { n: 1n, created_at: new Date('2026-01-01T00:00:00Z') });
    expect(JSON.parse(io.out())).toEqual({
      schemaVersion: 1,
      n: '1',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
  });
});
