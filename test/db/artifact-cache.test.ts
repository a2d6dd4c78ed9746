import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getArtifact, insertArtifact } from '../../src/db/artifacts.js';
import { getTicket } from '../../src/db/tickets.js';
import { addRepo, newTicket } from '../helpers/fixtures.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

describe('artifacts kept after a read', () => {
  let one: TestDb;
  let two: TestDb;
  beforeAll(async () => {
    [one, two] = await Promise.all([createTestDb(2), createTestDb(2)]);
  });
  afterAll(() => Promise.all([one.drop(), two.drop()]));

  async function planIn(t: TestDb, content: string) {
    const ticket = await getTicket(t.db, await newTicket(t.db, await addRepo(t.db, 'same')));
    return insertArtifact(t.db, { ticketId: ticket.id, kind: 'plan', content });
  }

  it('answers each database with its own row, though both number it alike', async () => {
    const first = await planIn(one, '{"in":"one"}');
    const second = await planIn(two, '{"in":"two"}');
    expect(second.id).toBe(first.id);
    expect((await getArtifact(one.db, first.id)).content).toBe('{"in":"one"}');
    expect((await getArtifact(two.db, second.id)).content).toBe('{"in":"two"}');
    expect((await getArtifact(one.db, first.id)).content).toBe('{"in":"one"}');
  });
});
