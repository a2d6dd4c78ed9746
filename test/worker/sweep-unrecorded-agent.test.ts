/**
 * An orchestrator SIGKILLed between spawning an agent and recording its pid leaves a run row that
 * names no process. The sweeper still finds the agent — by the tag derived from the run id, which
 * every process of the run carries in its environment — and kills it before the work goes out
 * again, so two agents never share the ticket's workspace.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentProcessTag } from '../../src/agents/process-identity.js';
import { markRunStarted } from '../../src/db/runs.js';
import { registerPool } from '../../src/db/pools.js';
import { getTicket } from '../../src/db/tickets.js';
import { sweepDeadPools } from '../../src/worker/sweeper.js';
import { eventually, isGone, orphanGroup } from '../agents/support.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { addRepo, driveTo, newTicket } from '../helpers/fixtures.js';

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
});
afterAll(async () => {
  await t.drop();
});

describe('sweeping a dead pool whose agent was never recorded', () => {
  it("kills the run's processes, found by the run id in their tag, and re-dispatches", async () => {
    const repo = await addRepo(t.db);
    const key = await newTicket(t.db, repo);
    await driveTo(t.db, key, 'PLAN_DRAFT');
    const runId = (await getTicket(t.db, key)).current_run_id!;
    // A pool on this host whose process is gone: a pid that exited, with a start time of its own.
    const deadPool = randomUUID();
    const deadPid = Number(execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }));
    await registerPool(t.db, {
      id: deadPool,
      host: os.hostname(),
      pid: deadPid,
      concurrency: 1,
      process_started_at: '1',
      version: 'test',
    });
    await markRunStarted(t.db, runId, {
      poolId: deadPool,
      host: os.hostname(),
      provider: 'command',
      model: null,
      transcriptPath: '/nonexistent/run.jsonl',
    });
    const agent = orphanGroup(agentProcessTag(runId));
    // Another run whose id starts like this one's: its processes are not this run's.
    const other = orphanGroup(agentProcessTag(`${runId}0`));

    const swept = await sweepDeadPools(t.db, randomUUID(), 30, pino({ level: 'silent' }));

    expect(swept.deadPools).toEqual([deadPool]);
    expect(swept.reapedGroups).toBe(1);
    expect(await eventually(() => isGone(-agent))).toBe(true);
    // Another run's processes are not this run's: left alone.
    expect(isGone(-other)).toBe(false);
    const after = await getTicket(t.db, key);
    expect(after.current_run_id).not.toBe(runId);
  });
});
