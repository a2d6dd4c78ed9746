/**
 * `loopwright show <ticket> --html`: the console's ticket document as one inert standalone file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertArtifact } from '../../src/db/artifacts.js';
import { getTicket } from '../../src/db/tickets.js';
import { expectBadInput, runCli } from '../cli/helpers.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { addRepo, driveTo, newTicket } from '../helpers/fixtures.js';

let t: TestDb;

beforeAll(async () => {
  t = await createTestDb(4);
});

afterAll(async () => {
  await t?.drop();
});

describe('show --html', () => {
  it('writes the ticket document as a standalone file: no script, agent text escaped', async () => {
    const repo = await addRepo(t.db);
    const key = await newTicket(t.db, repo, 'Export <em>me</em>');
    await driveTo(t.db, key, 'BUILD');
    const ticket = await getTicket(t.db, key);
    await insertArtifact(t.db, {
      ticketId: ticket.id,
      kind: 'plan',
      content: JSON.stringify({
        goal: 'Ship it',
        allowedFiles: ['src/a.js'],
        testFiles: ['test/a.test.js'],
        acceptanceCriteria: [{ name: 'a works', test: 'a works' }],
        notes: '# Risk\n<script>alert(1)</script>',
      }),
    });
    await insertArtifact(t.db, {
      ticketId: ticket.id,
      kind: 'report',
      content: JSON.stringify({ summary: '</pre><script>alert(2)</script>', rationale: 'r' }),
    });
    const r = await runCli(t, ['show', key, '--html']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const page = r.stdout;
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;`,
    );
    expect(page).not.toMatch(/<script|<link|\son[a-z]+=/i);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(page).toContain('Export &lt;em&gt;me&lt;/em&gt;');
    expect(page).toContain('<style>');
    expect(page).toContain('QUEUED → PLAN_DRAFT');
    expect(page).toContain('Acceptance criteria');
    expect(page).not.toContain('<form');
  });

  it('refuses --html with --json, and an unknown ticket, in one line', async () => {
    const both = await runCli(t, ['show', 'nope-1', '--html', '--json']);
    expect({ code: both.code, stdout: both.stdout }).toEqual({ code: 2, stdout: '' });
    expect(both.stderr).toContain('--html and --json exclude each other');
    expectBadInput(await runCli(t, ['show', 'nope-1', '--html']), 'unknown ticket');
  });
});
