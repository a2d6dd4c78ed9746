/**
 * The console in a real browser (Debian chromium via playwright-core) on a real factory with
 * scripted agents: a ticket moves QUEUED -> LIVE on the open board without a reload; the ticket
 * page shows timeline, plan and runs; a copilot ticket is approved with its button and moves; a
 * `<script>` in an agent's report renders as text. Screenshots go to docs/screenshots/.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTicket } from '../../src/db/tickets.js';
import type { ConsoleHandle } from '../../src/console/server.js';
import { createLoopHarness, type LoopHarness } from '../helpers/loop-harness.js';
import {
  baseReport,
  feature,
  happySteps,
  match,
  planFor,
  scriptOf,
} from '../helpers/loop-script.js';
import { consoleOn, launchChromium } from './support.js';

const SHOTS = path.join(process.cwd(), 'docs', 'screenshots');
const XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

const plain = feature('alpha', 'Add alpha [alpha]');
const copilot = feature('beta', 'Add beta [beta]');
const script = scriptOf(
  [plain, copilot],
  [
    // The first agent of each plain ticket takes a moment, so the board shows it running.
    ...happySteps(plain, { sleepMs: 1500 }).slice(0, 1),
    {
      match: match(copilot, 'generator', 'build'),
      write: { [copilot.module]: copilot.impl, [copilot.liveFile]: copilot.live },
      report: baseReport(`Implemented beta ${XSS}`, [copilot.module, copilot.liveFile]),
    },
    {
      match: match(copilot, 'lead', 'plan_draft'),
      report: {
        ...baseReport('Plan for beta'),
        plan: { ...planFor(copilot), notes: `# Risks\n- none ${XSS}` },
      },
    },
  ],
);

let lh: LoopHarness;
let browser: Browser;
let console_: ConsoleHandle;

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  lh = await createLoopHarness({ script, concurrency: 2 });
  console_ = await consoleOn(lh.db, lh.home);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await console_?.close();
  await lh?.close();
});

async function openPage(width = 1280, height = 900): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.on('pageerror', (e) => {
    throw e;
  });
  return page;
}

const liveReady = (page: Page) => page.waitForSelector('#live-status.on', { timeout: 10_000 });

describe('the console in chromium', () => {
  it('moves a ticket QUEUED -> LIVE on an open board, shows its document, approves a copilot ' +
    'ticket, and escapes reports', async () => {
    const board = await openPage();
    await board.goto(console_.url);
    await liveReady(board);
    await board.evaluate('window.__noReload = true');

    const key = await lh.file(plain.title, 'The **alpha** feature.');
    await board.waitForSelector(`.column[data-state="QUEUED"] #card-${key}`, { timeout: 5_000 });
    const seen = new Set<string>();
    await lh.run({
      timeoutMs: 120_000,
      during: async () => {
        const deadline = Date.now() + 110_000;
        while (Date.now() < deadline) {
          const state = await board
            .locator(`#card-${key}`)
            .getAttribute('data-state', { timeout: 1_000 })
            .catch(() => null);
          if (state) seen.add(state);
          if (state === 'BUILD' || state === 'PLAN_DRAFT')
            await board.screenshot({ path: path.join(SHOTS, 'board-running.png') }).catch(() => {});
          if (state === 'LIVE') return;
          await board.waitForTimeout(100);
        }
      },
    });
    await board.waitForSelector(`.column[data-state="LIVE"] #card-${key}`, { timeout: 5_000 });
    expect(await board.evaluate('window.__noReload')).toBe(true);
    expect(seen.has('LIVE')).toBe(true);
    expect(seen.size).toBeGreaterThanOrEqual(3); // it was seen moving, not only at the end
    // The column counts follow the card on the same feed, a moment later on a busy machine.
    await expect
      .poll(() => board.locator('[data-count="LIVE"]').textContent(), { timeout: 5_000 })
      .toBe('1');
    await board.screenshot({ path: path.join(SHOTS, 'board.png'), fullPage: true });

    // The ticket page: timeline, plan as a document, runs.
    await board.click(`#card-${key} a.key`);
    await board.waitForSelector('#ticket-doc');
    const timeline = await board.locator('#timeline').textContent();
    expect(timeline).toContain('QUEUED → PLAN_DRAFT');
    expect(timeline).toMatch(/SHIP → LIVE/);
    const plan = await board.locator('#plan').textContent();
    expect(plan).toContain('Acceptance criteria');
    expect(plan).toContain('alpha says its name');
    expect(plan).toContain(plain.module);
    const frozen = (await getTicket(lh.db.db, key)).snapshot.context as {
      approvedPlan: { sha256: string };
    };
    expect(plan).toContain(frozen.approvedPlan.sha256);
    const runs = await board.locator('#runs tbody tr').count();
    expect(runs).toBeGreaterThanOrEqual(5);
    expect(await board.locator('#runs').textContent()).toContain('scripted');
    expect(await board.locator('#diff pre.diff').textContent()).toContain(plain.module);
    await board.screenshot({ path: path.join(SHOTS, 'ticket.png'), fullPage: true });

    // A copilot ticket stops before merging and waits for a person.
    await lh.db.db
      .updateTable('loopwright.repositories')
      .set({ mode: 'copilot' })
      .where('id', '=', lh.repo.id)
      .execute();
    const attention = await openPage();
    await attention.goto(`${console_.url}attention`);
    await liveReady(attention);
    const beta = await lh.file(copilot.title);
    await lh.run({ timeoutMs: 120_000 });
    expect((await getTicket(lh.db.db, beta)).substate).toBe('awaiting_approval');
    await attention.waitForSelector(`#attention-${beta} button.btn-approve`, { timeout: 5_000 });
    await attention.screenshot({ path: path.join(SHOTS, 'attention.png'), fullPage: true });

    // Its page shows the report's <script> as text, and nothing ran.
    const ticketPage = await openPage();
    await ticketPage.goto(`${console_.url}tickets/${beta}`);
    await liveReady(ticketPage);
    expect(await ticketPage.locator('#reports').textContent()).toContain(
      '<script>window.__pwned = 1</script>',
    );
    expect(await ticketPage.locator('#plan').textContent()).toContain('<img src=x');
    expect(await ticketPage.evaluate('window.__pwned')).toBeUndefined();
    expect(await ticketPage.locator('#ticket-doc script, #ticket-doc img').count()).toBe(0);

    // Approve with the button; the ticket page (open elsewhere) follows without reloading.
    await attention.click(`#attention-${beta} button.btn-approve`);
    await attention.waitForSelector('.flash.ok', { timeout: 5_000 });
    expect(await attention.locator('.flash').textContent()).toContain(
      `${beta}: SHIP -> SHIP.merging`,
    );
    await lh.run({ timeoutMs: 120_000 });
    await ticketPage.waitForSelector('#ticket-state[data-state="LIVE"]', { timeout: 5_000 });
    const approvedBy = await ticketPage.locator('#timeline').textContent();
    expect(approvedBy).toContain('operator:console:tester');
    expect(await attention.locator(`#attention-${beta}`).count()).toBe(0);

    // On a phone.
    const phone = await openPage(390, 844);
    await phone.goto(console_.url);
    await liveReady(phone);
    const overflow = await phone.evaluate(
      'document.documentElement.scrollWidth - window.innerWidth',
    );
    expect(overflow as number).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: path.join(SHOTS, 'board-phone.png'), fullPage: true });
  }, 400_000);
});
