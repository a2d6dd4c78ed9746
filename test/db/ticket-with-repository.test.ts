import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRepositoryById } from '../../src/db/repositories.js';
import { getTicket, getTicketWithRepository } from '../../src/db/tickets.js';
import { NotFoundError } from '../../src/errors.js';
import { addRepo, newTicket } from '../helpers/fixtures.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

describe('loading a ticket with its repository in one statement', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(2);
  });
  afterAll(() => t.drop());

  it('returns exactly the rows the two separate reads return', async () => {
    const repo = await addRepo(t.db, 'joined');
    const key = await newTicket(t.db, repo, 'joined ticket');
    const alone = await getTicket(t.db, key);
    const both = await getTicketWithRepository(t.db, alone.id);
    expect(both.ticket).toEqual(alone);
    expect(both.repo).toEqual(await getRepositoryById(t.db, repo.id));
    expect(both.repo.created_at).toBeInstanceOf(Date);
  });

  it('says which ticket is missing', async () => {
    await expect(getTicketWithRepository(t.db, '987654321')).rejects.toBeInstanceOf(NotFoundError);
  });
});
