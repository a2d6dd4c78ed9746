import { describe, expect, it } from 'vitest';
import { libpqEnv } from './psql.js';
import { defaultRepoName } from './repo.js';
import { buildBoard } from './status.js';

describe('defaultRepoName', () => {
  it.each([
    ['/src/app', 'app'],
    ['/src/My Web.App', 'my-web-app'],
    ['/src/--Weird__', 'weird'],
    [`/src/${'x'.repeat(60)}`, 'x'.repeat(40)],
    ['/src/@@@', null],
  ])('%s -> %s', (dir, name) => {
    expect(defaultRepoName(dir)).toBe(name);
  });
});

describe('libpqEnv', () => {
  it('carries every part of the URL in PG* variables, decoded', () => {
    expect(libpqEnv('postgres://lw:p%40ss%2Fw@db.example:6543/fac%20tory?sslmode=require')).toEqual(
      {
        PGHOST: 'db.example',
        PGPORT: '6543',
        PGUSER: 'lw',
        PGPASSWORD: 'p@ss/w',
        PGDATABASE: 'fac tory',
        PGSSLMODE: 'require',
        PGOPTIONS: '-c search_path=loopwright,public',
      },
    );
  });

  it('supports a socket directory in ?host= and leaves out what the URL omits', () => {
    expect(libpqEnv('postgresql:///lw?host=/var/run/postgresql')).toEqual({
      PGHOST: '/var/run/postgresql',
      PGDATABASE: 'lw',
      PGOPTIONS: '-c search_path=loopwright,public',
    });
  });
});

describe('buildBoard', () => {
  it('folds counts into one row per repository with totals, states in lifecycle order', () => {
    const board = buildBoard(
      ['a', 'idle'],
      [
        { repo: 'a', state: 'LIVE', tickets: 2 },
        { repo: 'a', state: 'QUEUED', tickets: 1 },
        { repo: 'b', state: 'QUEUED', tickets: 3 },
      ],
    );
    expect(board).toEqual({
      repos: [
        { repo: 'a', states: { QUEUED: 1, LIVE: 2 }, total: 3 },
        { repo: 'idle', states: {}, total: 0 },
        { repo: 'b', states: { QUEUED: 3 }, total: 3 },
      ],
      totals: { QUEUED: 4, LIVE: 2 },
      total: 6,
    });
    expect(Object.keys(board.totals)).toEqual(['QUEUED', 'LIVE']);
  });
});
