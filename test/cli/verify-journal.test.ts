import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTicket } from '../../src/db/tickets.js';
import type { TestDb } from '../helpers/db.js';
import { cliDb, dropCliDb, dumpState, expectBadInput, runCli, runJson, send } from './helpers.js';

let t: TestDb;

beforeAll(async () => {
  t = await cliDb('app');
  await runCli(t, ['ticket', 'add', '--repo', 'app', '--title', 'one']);
  await runCli(t, ['ticket', 'add', '--repo', 'app', '--title', 'two']);
  await send(t.db, 'app-1', { type: 'START' });
  await runCli(t, ['note', 'app-1', 'checked']);
});
afterAll(() => dropCliDb(t));

/** Edit a journal row behind the append-only trigger's back, as a careless superuser might. */
async function tamper(key: string, seq: number): Promise<void> {
  const { id } = await getTicket(t.db, key);
  await t.db.transaction().execute(async (trx) => {
    await sql`alter table loopwright.ticket_events disable trigger journal_append_only`.execute(
      trx,
    );
    await sql`update loopwright.ticket_events set snapshot = jsonb_set(snapshot,
      '{context,attempt}', '7')
              where ticket_id = ${id} and seq = ${seq}`.execute(trx);
    await sql`alter table loopwright.ticket_events enable trigger journal_append_only`.execute(trx);
  });
}

describe('loopwright verify-journal', () => {
  it('replays every journal and reports ok', async () => {
    expect(await runCli(t, ['verify-journal'])).toEqual({
      code: 0,
      stdout: 'ok: 2 tickets, 4 rows verified\n',
      stderr: '',
    });
    expect(await runCli(t, ['verify-journal', '--all'])).toEqual({
      code: 0,
      stdout: 'ok: 2 tickets, 4 rows verified\n',
      stderr: '',
    });
    expect(await runCli(t, ['verify-journal', 'app-1'])).toEqual({
      code: 0,
      stdout: 'ok: 1 tickets, 3 rows verified\n',
      stderr: '',
    });
    expect(await runJson(t, ['verify-journal'])).toEqual({
      ok: true,
      tickets: 2,
      rows: 4,
      mismatches: [],
    });
  });

  it('refuses an unknown ticket, or a ticket together with --all', async () => {
    const before = await dumpState(t.db);
    expectBadInput(
      await runCli(t, ['verify-journal', 'app-99']),
      'loopwright: unknown ticket: app-99',
    );
    expectBadInput(
      await runCli(t, ['verify-journal', 'app-1', '--all']),
      'give a ticket or --all, not both',
    );
    expect(await dumpState(t.db)).toEqual(before);
  });

  it('names a hand-edited row and exits 1', async () => {
    await tamper('app-1', 2);
    const all = await runCli(t, ['verify-journal']);
    expect(all.code).toBe(1);
    expect(all.stdout).toBe(
      'app-1 row 2: stored snapshot differs from the replayed one\n1 of 2 tickets ' +
        'differ (4 rows read)\n',
    );
    expect((await runCli(t, ['verify-journal', 'app-1'])).code).toBe(1);
    expect((await runCli(t, ['verify-journal', 'app-2'])).code).toBe(0);
    const json = await runCli(t, ['verify-journal', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      tickets: 2,
      mismatches: [
        { ticket: 'app-1', seq: 2, problem: 'stored snapshot differs from the replayed one' },
      ],
    });
  });
});
