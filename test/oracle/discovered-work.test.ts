import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertBatch } from '../../src/db/batches.js';
import { readJournal } from '../../src/db/journal.js';
import { getTicket } from '../../src/db/tickets.js';
import { createTicket } from '../../src/engine/create-ticket.js';
import { demoScript, featureSteps, PAGE_TITLE, SLUGIFY } from '../../src/demo/playbook.js';
import { judgeBatch } from '../../src/oracle/oracle.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { scriptedRepo, type ScriptedRepo } from '../helpers/scripted-repo.js';

let t: TestDb;
let repo: ScriptedRepo;

/**
 * The page-title build discovers that slugify is missing (blocking), plus two items that must be
 * refused.
 */
function script() {
  const build = featureSteps(PAGE_TITLE).find((s) => s.match?.phase === 'build')!;
  const discovering = {
    ...build,
    report: {
      ...(build.report as object),
      discoveredWork: [
        {
          title: SLUGIFY.title,
          body: 'pageTitle needs slugify, which does not exist yet',
          blocking: true,
          tags: ['discovered'],
        },
        { title: 'Port to the mobile app', body: 'same helper on mobile', repo: 'mobile' },
        {
          title: 'Circular chore',
          body: 'waits for its own parent',
          blocking: true,
          dependsOn: ['web-1'],
        },
      ],
    },
  };
  return { steps: [discovering, ...demoScript().steps] };
}

beforeAll(async () => {
  t = await createTestDb();
  repo = await scriptedRepo(t, 'web', script());
  await insertBatch(t.db, 'b');
});
afterAll(async () => {
  await t.drop();
  await repo.cleanup();
});

describe('discovered work', () => {
  it('files a blocking discovery, blocks the parent until it is LIVE, and the ' +
    'oracle waits for both', async () => {
    const parent = await createTicket(t.db, {
      repo: 'web',
      title: PAGE_TITLE.title,
      batch: 'b',
      actor: 'operator:test',
    });
    expect(parent.key).toBe('web-1');
    expect((await judgeBatch(t.db, 'b', { recheck: false, home: repo.home })).done).toBe(false);

    await repo.runUntilIdle();

    const child = await getTicket(t.db, 'web-2');
    expect(child).toMatchObject({
      title: SLUGIFY.title,
      state: 'LIVE',
      origin_ticket_id: parent.id,
      tags: ['discovered'],
    });
    expect((await getTicket(t.db, 'web-1')).state).toBe('LIVE');
    await expect(getTicket(t.db, 'web-3')).rejects.toThrow(/unknown ticket/);

    const journal = await readJournal(t.db, parent.id);
    const note = journal.find((r) => r.event_type === 'NOTE')!;
    const text = (note.event as { text: string }).text;
    expect(text).toContain('discovered: web-2 (blocking)');
    expect(text).toContain('discovered work refused: Port to the mobile app: unknown repo: mobile');
    expect(text).toMatch(/discovered work refused: Circular chore: dependency cycle/);
    const blocked = journal.find((r) => r.event_type === 'BLOCK')!;
    expect(blocked).toMatchObject({ from_state: 'VALIDATE', to_state: 'BLOCKED' });
    const unblocked = journal.find((r) => r.event_type === 'UNBLOCK')!;
    const childLive = (await readJournal(t.db, child.id)).find((r) => r.to_state === 'LIVE')!;
    expect(new Date(unblocked.created_at).getTime()).toBeGreaterThanOrEqual(
      new Date(childLive.created_at).getTime(),
    );
    const childCreated = (await readJournal(t.db, child.id))[0]!;
    expect(childCreated.event).toMatchObject({ origin: { ticket: 'web-1', blocking: true } });

    const oracle = await judgeBatch(t.db, 'b', { recheck: false, home: repo.home });
    expect(oracle.done).toBe(true);
    expect(oracle.tickets.map((x) => x.key)).toEqual(['web-1', 'web-2']);
  }, 240_000);
});
