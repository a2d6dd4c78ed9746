/**
 * SHIP's failure paths, end to end: a base branch that moved underneath the ticket with a
 * conflicting commit, and a live check that fails after the merge (merged is not shipped).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
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
  it('escalates MERGE_CONFLICT when main gained a conflicting commit while the ticket was in flight, and leaves main alone', async () => {
    const f = feature('conflict');
    const theirs =
      "/** Someone else's take, committed to main meanwhile. */\nexport function conflict() {\n  return 'theirs';\n}\n";
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
          }>`select count(*)::int as n from loopwright.agent_runs where phase = 'build' and status = 'running' and pid is not null`.execute(
            lh.db.db,
          );
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

  it('escalates LIVE_CHECK_FAILED when the live check fails after the merge: merged, but not LIVE', async () => {
    const f = feature('deadonarrival');
    const brokenLive = `import { ${f.name} } from '../../src/${f.name}.js';\nexport const check = () => ${f.name}() === 'something it never says';\n`;
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
      reason: 'LIVE_CHECK_FAILED',
      returnTo: 'SHIP',
      liveEvidence: null,
    });
    expect(o.context.detail).toMatch(
      /^live check `node scripts\/live-check\.mjs` failed \(exit 1\)/,
    );
    expect(o.context.detail).toContain(`FAIL ${f.name}.mjs`);
    expect(pathOf(o).slice(-3)).toEqual(['SHIP.merging', 'SHIP.verifying', 'ESCALATED']);
    // The merge commit is on main...
    const tip = await lh.mainTip();
    expect(tip).not.toBe(base);
    expect(o.context.mergeCommit).toBe(tip);
    expect(await isMergedInto(lh.repoPath, `loopwright/${key}`, 'main')).toBe(true);
    expect(o.events('MERGED')).toMatchObject([{ event: { commit: tip } }]);
    // ...and the live check ran against exactly that commit and failed.
    const live = await gateResults(o, 'LIVE');
    expect(live).toMatchObject([
      { command: 'node scripts/live-check.mjs', passed: false, exitCode: 1, commit: tip },
    ]);
    expect(o.events('LIVE_CHECK_FAILED')).toMatchObject([
      { from_state: 'SHIP', to_state: 'ESCALATED' },
    ]);
    expect(o.journal.some((r) => r.to_state === 'LIVE')).toBe(false);
  }, 60_000);
});
