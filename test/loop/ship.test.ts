/**
 * SHIP's failure paths, end to end: a base branch that moved underneath the ticket with a
 * conflicting commit, and a live check that fails after the merge (merged is not shipped).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { waitingOnCheckout } from '../../src/db/tickets.js';
import { git, isMergedInto } from '../../src/workspace/index.js';
import {
  createLoopHarness,
  gateResults,
  pathOf,
  type LoopHarness,
} from '../helpers/loop-harness.js';
import { baseReport, feature, match, scriptOf } from '../helpers/loop-script.js';

let h: LoopHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function waitFor<T>(probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('shipping', () => {
  it('escalates MERGE_CONFLICT when main gained a conflicting commit while the ticket was in ' +
    'flight, and leaves main alone', async () => {
    const f = feature('conflict');
    const theirs =
      "/** Someone else's take, committed to main meanwhile. */\nexport function conflict() " +
      "{\n  return 'theirs';\n}\n";
    // BUILD takes a while: the window in which a human commits the same file to main.
    h = await createLoopHarness({
      script: scriptOf(
        [f],
        [
          {
            match: match(f, 'generator', 'build'),
            write: { [f.module]: f.impl, [f.liveFile]: f.live },
            report: baseReport(`Implemented ${f.name}`, [f.module, f.liveFile]),
            sleepMs: 2500,
            costUsd: 0.05,
          },
        ],
      ),
    });
    const lh = h;
    const key = await lh.file(f.title);
    let humanCommit = '';
    await lh.run({
      during: async () => {
        await waitFor(async () => {
          const { rows } = await sql<{
            n: number;
          }>`select count(*)::int as n from loopwright.agent_runs where phase = 'build'
            and status = 'running' and pid is not null`.execute(lh.db.db);
          return rows[0]!.n > 0 ? true : undefined;
        });
        // A human, in the main checkout, the ordinary way.
        await writeFile(path.join(lh.repoPath, f.module), theirs);
        await git(lh.repoPath, ['add', f.module]);
        await git(lh.repoPath, ['commit', '-q', '-m', 'conflict(): the other implementation']);
        humanCommit = await lh.mainTip();
      },
    });
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context).toMatchObject({
      reason: 'MERGE_CONFLICT',
      returnTo: 'SHIP',
      mergeCommit: null,
      detail: `MERGE_CONFLICT: ${f.module}`,
    });
    expect(pathOf(o).slice(-3)).toEqual(['VALIDATE', 'SHIP.merging', 'ESCALATED']);
    expect(o.events('MERGE_CONFLICT')).toMatchObject([
      { from_state: 'SHIP', to_state: 'ESCALATED', actor: 'orchestrator:merge' },
    ]);
    // The build itself was clean: the conflict is main's doing, found only at merge time.
    expect(o.events('VERDICT').map((r) => r.event.verdict)).toEqual(['PASS']);
    // main is exactly where the human left it; the ticket branch was not merged into it.
    expect(await lh.mainTip()).toBe(humanCommit);
    expect(await git(lh.repoPath, ['log', '--format=%s', '-1', 'main'])).toBe(
      'conflict(): the other implementation',
    );
    expect(await isMergedInto(lh.repoPath, `loopwright/${key}`, 'main')).toBe(false);
    expect(await readFile(path.join(lh.repoPath, f.module), 'utf8')).toBe(theirs);
    expect(await git(lh.repoPath, ['status', '--porcelain'])).toBe('');
  }, 60_000);

  it('escalates MERGE_CHECK_FAILED when the live check fails on the merge commit: ' +
    'main never moves', async () => {
    const f = feature('deadonarrival');
    const brokenLive =
      `import { ${f.name} } from '../../src/${f.name}.js';\nexport const ` +
      `check = () => ${f.name}() === 'something it never says';\n`;
    h = await createLoopHarness({
      script: scriptOf(
        [f],
        [
          {
            match: match(f, 'generator', 'build'),
            write: { [f.module]: f.impl, [f.liveFile]: brokenLive },
            report: baseReport(`Implemented ${f.name}`, [f.module, f.liveFile]),
            costUsd: 0.05,
          },
        ],
      ),
    });
    const lh = h;
    const base = await lh.mainTip();
    const key = await lh.file(f.title);
    await lh.run();
    const o = await lh.outcome(key);
    expect(o.state).toBe('ESCALATED');
    expect(o.context).toMatchObject({
      reason: 'MERGE_CHECK_FAILED',
      returnTo: 'SHIP',
      mergeCommit: null,
      liveEvidence: null,
    });
    expect(o.context.detail).toMatch(
      /^live check on the merge commit `node scripts\/live-check\.mjs` failed \(exit 1\)/,
    );
    expect(o.context.detail).toContain(`FAIL ${f.name}.mjs`);
    expect(pathOf(o).slice(-3)).toEqual(['VALIDATE', 'SHIP.merging', 'ESCALATED']);
    // The base branch, the user's checkout and the ticket branch's merge state: all untouched.
    expect(await lh.mainTip()).toBe(base);
    expect(await git(lh.repoPath, ['status', '--porcelain'])).toBe('');
    expect(await isMergedInto(lh.repoPath, `loopwright/${key}`, 'main')).toBe(false);
    expect(o.events('MERGED')).toEqual([]);
    // The tests passed and the live check failed, both on the candidate merge commit.
    const [failed] = o.events('MERGE_CHECK_FAILED');
    const candidate = failed!.event.commit as string;
    expect(await git(lh.repoPath, ['log', '-1', '--format=%P', candidate])).toBe(
      `${base} ${await git(lh.repoPath, ['rev-parse', `loopwright/${key}`])}`,
    );
    expect(await gateResults(o, 'MERGE_TEST')).toMatchObject([
      { command: 'node --test', passed: true, commit: candidate },
    ]);
    expect(await gateResults(o, 'MERGE_LIVE')).toMatchObject([
      { command: 'node scripts/live-check.mjs', passed: false, exitCode: 1, commit: candidate },
    ]);
    expect(o.journal.some((r) => r.to_state === 'LIVE')).toBe(false);
  }, 60_000);

  it('escalates LIVE_CHECK_FAILED when the deployment fails after the merge: ' +
    'merged, but not LIVE', async () => {
    const f = feature('flaky');
    // A "deployment" that answers the first check (on the merge commit) and not the second (after
    // the merge): the post-merge live check is what catches a deployment that differs from the
    // tree.
    const outside = await mkdtemp(path.join(os.tmpdir(), 'lw-deploy-'));
    const counter = path.join(outside, 'checks');
    const probe = path.join(outside, 'deployment.cjs');
    await writeFile(
      probe,
      `const fs = require('node:fs');\nconst n = fs.existsSync(${JSON.stringify(counter)}) ? ` +
        `Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8')) : ` +
        `0;\nfs.writeFileSync(${JSON.stringify(counter)}, String(n + 1));\nif (n > 0) { ` +
        `console.log('deployment is down'); process.exit(1); }\n`,
    );
    try {
      h = await createLoopHarness({
        script: scriptOf([f]),
        liveCmd: `node scripts/live-check.mjs && node ${probe}`,
        // The probe stands for a deployment outside the tree, which a sandboxed gate cannot see.
        sandbox: 'none',
      });
      const lh = h;
      const base = await lh.mainTip();
      const key = await lh.file(f.title);
      await lh.run();
      const o = await lh.outcome(key);
      expect(o.state).toBe('ESCALATED');
      expect(o.context).toMatchObject({ reason: 'LIVE_CHECK_FAILED', returnTo: 'SHIP' });
      expect(o.context.detail).toContain('deployment is down');
      expect(pathOf(o).slice(-3)).toEqual(['SHIP.merging', 'SHIP.verifying', 'ESCALATED']);
      const tip = await lh.mainTip();
      expect(tip).not.toBe(base);
      expect(o.context.mergeCommit).toBe(tip);
      expect(o.events('MERGED')).toMatchObject([{ event: { commit: tip } }]);
      expect(await gateResults(o, 'MERGE_LIVE')).toMatchObject([{ passed: true, commit: tip }]);
      expect(await gateResults(o, 'LIVE')).toMatchObject([{ passed: false, commit: tip }]);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  }, 60_000);

  it('waits in SHIP while the user has uncommitted work on main, then ' +
    'resumes after git stash', async () => {
    const f = feature('patient');
    h = await createLoopHarness({ script: scriptOf([f]) });
    const lh = h;
    const base = await lh.mainTip();
    const key = await lh.file(f.title);
    const readme = path.join(lh.repoPath, 'README.md');
    const mine = `${await readFile(readme, 'utf8')}\nMy own uncommitted notes.\n`;
    await writeFile(readme, mine);
    await lh.run();

    const waiting = await lh.outcome(key);
    expect(waiting.state).toBe('SHIP');
    expect(waiting.ticket.snapshot.value).toEqual({ SHIP: 'waiting_checkout' });
    expect(waiting.context.reason).toBe('CHECKOUT_DIRTY');
    expect(waiting.context.detail).toContain(`commit or stash in ${lh.repoPath}`);
    expect(waiting.context.detail).toContain('README.md');
    expect(waiting.events('CHECKOUT_DIRTY')).toHaveLength(1);
    // What `loopwright status` prints under the board.
    expect(await waitingOnCheckout(lh.db.db)).toEqual([
      { ticket: key, detail: waiting.context.detail },
    ]);
    expect(await lh.mainTip()).toBe(base);
    expect(await readFile(readme, 'utf8')).toBe(mine);

    await git(lh.repoPath, ['stash', '-q']);
    // The merge job looks again when its backoff is due (run --until-idle does not wait for it).
    await waitFor(async () => {
      const { rows } = await sql<{
        due: boolean;
      }>`select bool_and(run_at <= now()) as due from graphile_worker.jobs where key
        like '%:wait'`.execute(lh.db.db);
      return rows[0]?.due ? true : undefined;
    }, 40_000);
    await lh.run();
    const o = await lh.outcome(key);
    expect(o.state).toBe('LIVE');
    expect(pathOf(o).slice(-4)).toEqual([
      'SHIP.merging',
      'SHIP.waiting_checkout',
      'SHIP.verifying',
      'LIVE',
    ]);
    expect(o.context).toMatchObject({ reason: null, detail: null });
    const tip = await lh.mainTip();
    expect(o.context.mergeCommit).toBe(tip);
    // The checkout followed the merge; the user's work comes back and commits on top of it.
    expect(await git(lh.repoPath, ['status', '--porcelain'])).toBe('');
    await git(lh.repoPath, ['stash', 'pop', '-q']);
    await git(lh.repoPath, ['commit', '-qam', 'my notes']);
    expect(await git(lh.repoPath, ['show', `HEAD:${f.module}`])).toBe(f.impl.trimEnd());
    expect(await isMergedInto(lh.repoPath, tip, 'main')).toBe(true);
  }, 90_000);
});
