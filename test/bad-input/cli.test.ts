/**
 * Bad input is refused at the boundary: exit 2, one line on stderr, nothing on stdout, and no
 * stored row changed (a dump of every table and the job queue before and after is equal). An
 * operator event the ticket's state cannot take is journaled as a refusal for audit
 * (`rejected_events`) and changes nothing else.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDb } from '../helpers/db.js';
import { dumpedWithPgDump, dumpSchemas } from '../helpers/schema-dump.js';
import {
  cliDb,
  driveToShip,
  dropCliDb,
  makeGitRepo,
  expectBadInput,
  runCli,
  send,
  tempDir,
} from '../cli/helpers.js';

let t: TestDb;
let live: string;
let cancelled: string;

beforeAll(async () => {
  t = await cliDb('app');
  const add = async (title: string) =>
    (await runCli(t, ['ticket', 'add', '--repo', 'app', '--title', title])).stdout.trim();
  cancelled = await add('to be cancelled');
  expect((await runCli(t, ['cancel', cancelled])).code).toBe(0);
  live = await add('to be live');
  await driveToShip(t.db, live);
  await send(t.db, live, { type: 'MERGED', commit: 'abc1234' });
  await send(t.db, live, { type: 'LIVE_CHECK_PASSED', evidence: 'ok' });
}, 60_000);

afterAll(() => dropCliDb(t));

/**
 * Run a command, expect bad input, and expect the stored state unchanged: a pg_dump of the
 * loopwright and graphile_worker schemas (rows and sequences) before and after is equal, but for
 * the tables named in `except`.
 */
async function refused(args: string[], message: string | RegExp, except: string[] = []) {
  const before = await dumpSchemas(t.url, t.db);
  const result = await runCli(t, args);
  expectBadInput(result, message);
  const after = await dumpSchemas(t.url, t.db);
  for (const table of except) {
    delete before[`loopwright.${table}`];
    delete after[`loopwright.${table}`];
  }
  if (except.length > 0) {
    delete before.sequences;
    delete after.sequences;
  }
  expect(after).toEqual(before);
}

describe('the stored-state snapshot', () => {
  it('sees a change (so an equal snapshot means nothing changed)', async () => {
    const before = await dumpSchemas(t.url, t.db);
    expect(Object.keys(before)).toContain('loopwright.tickets');
    const note = await runCli(t, ['note', live, 'a note']);
    expect(note.code, note.stderr).toBe(0);
    expect(await dumpSchemas(t.url, t.db)).not.toEqual(before);
    // pg_dump is used whenever the installed one can read the server (CI's may be older).
    expect(typeof dumpedWithPgDump()).toBe('boolean');
  });
});

describe('repository settings that cannot be right', () => {
  it.each([
    [
      ['repo', 'add', 'REPO2', '--script', '/nonexistent/script.json'],
      /--script \/nonexistent\/script\.json: no such file/,
    ],
    [['repo', 'set', 'app', '--script', '/nonexistent/script.json'], /no such file/],
    [['repo', 'set', 'app', '--set', 'agentTimeoutSeconds=abc'], /agentTimeoutSeconds/],
    [['repo', 'set', 'app', '--set', 'retentionDays=-1'], /retentionDays/],
    [['repo', 'set', 'app', '--set', 'noSuchSetting=1'], /noSuchSetting/],
    [['repo', 'set', 'app', '--limit', 'maxAttempts=0'], /maxAttempts/],
    [['repo', 'set', 'app', '--sandbox', 'maybe'], /sandbox/],
    [['repo', 'set', 'app', '--settings-file', '/nonexistent/settings.json'], /settings/],
    [['repo', 'set', 'nosuchrepo', '--set', 'retentionDays=3'], /unknown repo: nosuchrepo/],
  ])('%j', async (args, message) => {
    const argv = args.map((a) => (a === 'REPO2' ? makeGitRepo('second') : a));
    await refused(argv, message);
  });
});

describe('commands on the wrong kind of thing', () => {
  it('db destroy with an external database changes nothing', async () => {
    await refused(['db', 'destroy', '--yes'], /removes only the embedded cluster/);
  });

  it('gc with a malformed duration', async () => {
    await refused(['gc', '--older-than', 'soon'], /--older-than must be a number with a unit/);
  });
});

describe('ticket add refuses what it must not store', () => {
  it('a body over 256 KiB, from --body-file', async () => {
    const file = path.join(tempDir(), 'big.md');
    writeFileSync(file, 'x'.repeat(256 * 1024 + 1));
    await refused(
      ['ticket', 'add', '--repo', 'app', '--title', 'big', '--body-file', file],
      /body is 262145 bytes; the limit is 262144/,
    );
  });

  it('a body of exactly 256 KiB is fine', async () => {
    const file = path.join(tempDir(), 'max.md');
    writeFileSync(file, 'y'.repeat(256 * 1024));
    const result = await runCli(t, [
      'ticket',
      'add',
      '--repo',
      'app',
      '--title',
      'max',
      '--body-file',
      file,
    ]);
    expect(result.code, result.stderr).toBe(0);
  });

  it('multi-byte text counts in bytes', async () => {
    const file = path.join(tempDir(), 'wide.md');
    writeFileSync(file, 'é'.repeat(140 * 1024)); // 280 KiB of UTF-8
    await refused(
      ['ticket', 'add', '--repo', 'app', '--title', 'wide', '--body-file', file],
      /limit is 262144/,
    );
  });

  it('a NUL byte in the body or the title', async () => {
    const file = path.join(tempDir(), 'nul.md');
    writeFileSync(file, 'before\0after');
    await refused(
      ['ticket', 'add', '--repo', 'app', '--title', 'nul', '--body-file', file],
      'body contains a NUL byte',
    );
    await refused(['ticket', 'add', '--repo', 'app', '--title', 'a\0b'], /NUL byte/);
  });

  it('a title over 500 characters', async () => {
    await refused(
      ['ticket', 'add', '--repo', 'app', '--title', 't'.repeat(501)],
      /title is longer than 500/,
    );
  });
});

describe('final tickets stay final', () => {
  it('replay --from of a CANCELLED or LIVE ticket needs --force', async () => {
    await refused(['replay', cancelled, '--from', '1'], `${cancelled} is CANCELLED (final)`);
    await refused(['replay', live, '--from', '2'], `${live} is LIVE (final)`);
  });

  it('replay of a final ticket names its state', async () => {
    await refused(['replay', live], `${live} is LIVE (final)`);
  });

  it('--force rewinds a cancelled ticket on purpose', async () => {
    const result = await runCli(t, ['replay', cancelled, '--from', '1', '--force']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/rewound to row 1, now QUEUED/);
    expect((await runCli(t, ['cancel', cancelled])).code).toBe(0);
  });
});

describe('operator events the state cannot take', () => {
  it.each([['approve'], ['retry'], ['reject'], ['cancel']])(
    '%s on a LIVE ticket: exit 2 naming the state',
    async (name) => {
      await refused([name, live], new RegExp(`${live}: .* not accepted in LIVE`), [
        'rejected_events',
      ]);
    },
  );

  it('on a CANCELLED ticket too', async () => {
    await refused(['approve', cancelled], /not accepted in CANCELLED/, ['rejected_events']);
  });
});
