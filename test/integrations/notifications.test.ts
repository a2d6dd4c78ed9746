/**
 * Notifications reach a Slack-compatible webhook (the twin in test/twins/slack-twin.ts) through the
 * integrations loop: a card when a ticket escalates, when one dead-letters, when a copilot ticket
 * waits for approval (with the command to act), and when a batch's oracle says done. Failed
 * deliveries (500, 429) are retried on the next pass and each card arrives exactly once, also
 * when the loop restarts and reads the journal again from the start.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertArtifact } from '../../src/db/artifacts.js';
import { insertBatch } from '../../src/db/batches.js';
import { advanceCursor } from '../../src/db/integrations.js';
import { insertRepository, type Repository } from '../../src/db/repositories.js';
import { getTicket } from '../../src/db/tickets.js';
import { applyEvent } from '../../src/engine/apply-event.js';
import { createTicket } from '../../src/engine/create-ticket.js';
import { startIntegrations, type Integrations } from '../../src/integrations/service.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { driveTo, gitIdentityEnv, newTicket, sendResult } from '../helpers/fixtures.js';
import { startSlackTwin, type SlackTwin } from '../twins/slack-twin.js';
import { setEnv } from './helpers.js';

let db: TestDb;
let root: string;
let slack: SlackTwin;
let loop: Integrations | null = null;
let dark: Repository;
let copilot: Repository;
let mainSha: string;
let restoreEnv = () => {};

const startLoop = async () =>
  startIntegrations({
    db: db.db,
    home: path.join(root, 'home'),
    logger: pino({ level: 'silent' }),
    tickMs: 150,
  });

async function until<T>(what: string, probe: () => T | null | false, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const cardsAbout = (text: string) => slack.cards.filter((c) => c.text.includes(text));
/** The cards about `text` once there is one (for {@link until}). */
const someCards = (text: string) => () => {
  const cards = cardsAbout(text);
  return cards.length > 0 ? cards : null;
};

beforeAll(async () => {
  db = await createTestDb(6);
  root = await mkdtemp(path.join(os.tmpdir(), 'lw-notify-'));
  slack = await startSlackTwin();
  restoreEnv = setEnv({
    LOOPWRIGHT_NOTIFY_WEBHOOK_URL: slack.url,
    LINEAR_API_KEY: undefined,
    GITHUB_TOKEN: undefined,
  });
  // A real repository: the oracle checks that a LIVE ticket's merge commit is on the base.
  const repoPath = path.join(root, 'repo');
  await mkdir(repoPath, { recursive: true });
  const git = (args: string[]) =>
    execFileSync('git', args, {
      cwd: repoPath,
      encoding: 'utf8',
      env: gitIdentityEnv(),
    }).trim();
  git(['init', '-q', '-b', 'main']);
  await writeFile(path.join(repoPath, 'a.txt'), 'a\n');
  git(['add', '-A']);
  git(['commit', '-q', '-m', 'a']);
  mainSha = git(['rev-parse', 'HEAD']);
  dark = await insertRepository(db.db, { name: 'app', path: repoPath, base_branch: 'main' });
  copilot = await insertRepository(db.db, {
    name: 'cop',
    path: repoPath,
    base_branch: 'main',
    mode: 'copilot',
  });
  loop = await startLoop();
});

afterAll(async () => {
  await loop?.stop();
  await slack?.close();
  restoreEnv();
  await db?.drop();
  await rm(root, { recursive: true, force: true });
});

describe('notifications', () => {
  it('sends an escalation card (reason, commands), retrying failed deliveries', async () => {
    slack.failNext(2, 500);
    const key = await newTicket(db.db, dark, 'escalates');
    await driveTo(db.db, key, 'PLAN_DRAFT');
    await sendResult(db.db, key, { type: 'AGENT_TIMEOUT' });
    const [card] = await until('the escalation card', someCards(`${key} escalated`));
    expect(card!.text).toContain('AGENT_TIMEOUT');
    expect(card!.text).toContain(`loopwright retry ${key}`);
    expect(card!.blocks).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'header' })]),
    );
    expect(slack.attempts.filter((a) => a.text.includes(`${key} escalated`))).toEqual([
      expect.objectContaining({ status: 500 }),
      expect.objectContaining({ status: 500 }),
      expect.objectContaining({ status: 200 }),
    ]);
  });

  it('sends a dead-letter card once, through a rate-limited delivery', async () => {
    slack.failNext(1, 429);
    const key = await newTicket(db.db, dark, 'dead letters');
    await driveTo(db.db, key, 'PLAN_DRAFT');
    await sendResult(db.db, key, { type: 'REPORT_INVALID', errors: ['no report.json'] });
    await sendResult(db.db, key, { type: 'REPORT_INVALID', errors: ['no report.json again'] });
    expect((await getTicket(db.db, key)).state).toBe('DEAD_LETTER');
    const [card] = await until('the dead-letter card', someCards(`${key} dead-lettered`));
    expect(card!.text).toContain('CONTRACT_VIOLATION');
    expect(card!.text).toContain(`loopwright show ${key}`);
  });

  it('tells when a copilot ticket waits for approval, with the command to approve', async () => {
    const key = await newTicket(db.db, copilot, 'needs a human');
    await driveTo(db.db, key, 'SHIP');
    const t = await getTicket(db.db, key);
    expect(`${t.state}.${t.substate}`).toBe('SHIP.awaiting_approval');
    const [card] = await until('the approval card', someCards(`${key} waits`));
    expect(card!.text).toContain(`loopwright approve ${key}`);
    expect(card!.text).toContain(`loopwright reject ${key}`);
  });

  it("sends the batch card when the batch's oracle says done, not before", async () => {
    await insertBatch(db.db, 'launch');
    const a = (await createTicket(db.db, { repo: 'app', title: 'a', actor: 't', batch: 'launch' }))
      .key;
    const b = (await createTicket(db.db, { repo: 'app', title: 'b', actor: 't', batch: 'launch' }))
      .key;
    await applyEvent(db.db, b, { type: 'CANCEL' }, { actor: 'operator:test' });
    // The loop sees the cancellation; the batch is not done yet (a is still queued).
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(cardsAbout('Batch launch')).toEqual([]);
    await driveTo(db.db, a, 'SHIP');
    await sendResult(db.db, a, { type: 'MERGED', commit: mainSha });
    // The orchestrator's live check passed on the merge commit (what the live-check job records).
    const { id } = await getTicket(db.db, a);
    await insertArtifact(db.db, {
      ticketId: id,
      kind: 'gate_result',
      content: JSON.stringify({ gate: 'LIVE', commit: mainSha, passed: true }),
    });
    await sendResult(db.db, a, { type: 'LIVE_CHECK_PASSED', evidence: 'live check passed' });
    expect((await getTicket(db.db, a)).state).toBe('LIVE');
    const [card] = await until('the batch card', someCards('Batch launch is done'));
    expect(card!.text).toContain(`${a} (live)`);
    expect(card!.text).toContain(`${b} (human-gated)`);
    expect(card!.text).toContain('loopwright oracle launch');
  });

  it('never sends a card twice: a restarted loop rereading the journal sends nothing', async () => {
    const before = slack.attempts.length;
    await loop!.stop();
    await advanceCursor(db.db, 'notifications', 0);
    loop = await startLoop();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(slack.attempts.length).toBe(before);
    const titles = slack.cards.map((c) => c.text.split('\n')[0]);
    expect(titles).toHaveLength(4);
    expect(new Set(titles).size).toBe(4);
  });
});
