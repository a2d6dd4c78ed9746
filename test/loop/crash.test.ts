/**
 * kill -9 of `loopwright run` in the middle of the work, as real processes: the next `loopwright
 * run --until-idle` must notice the dead pool at once (same host, process gone), take its jobs
 * back, kill the agents it left behind, and still ship every ticket with a clean journal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { processStartTime } from '../../src/agents/reap.js';
import { readJournal } from '../../src/db/journal.js';
import { verifyJournal } from '../../src/engine/verify-journal.js';
import { isMergedInto } from '../../src/workspace/index.js';
import {
  createLoopHarness,
  groupAlive,
  pidAlive,
  type LoopHarness,
} from '../helpers/loop-harness.js';
import { baseReport, feature, match, scriptOf } from '../helpers/loop-script.js';

let h: LoopHarness | undefined;
let h2: LoopHarness | undefined;
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await h?.close();
  await h2?.close();
});

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly output: string;
}

/** `loopwright <args>` as a real child process (from source), with its output collected. */
function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout, output })),
  );
  return { child, exited };
}

async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface RunRow {
  readonly id: string;
  readonly ticket: string;
  readonly phase: string;
  readonly status: string;
  readonly pid: number | null;
  readonly pgid: number | null;
  readonly process_started_at: string | null;
  readonly pool_id: string | null;
  readonly error: string | null;
  readonly finished_at: Date | null;
}

describe('kill -9 of the orchestrator', () => {
  it('recovers: the next run sweeps the dead pool at once, reaps its agents, fails its runs ' +
    'and ships every ticket', async () => {
    const features = [feature('crasha'), feature('crashb'), feature('crashc')];
    // The first ticket's RED agent is slow: the orchestrator dies while that agent sleeps, so it
    // is still alive (orphaned) when the next orchestrator starts and must be reaped by it.
    // Everyone else is a little slow too, so more work is mid-flight at the kill.
    const [slow] = features;
    const slowRed = [
      {
        match: match(slow!, 'generator', 'red'),
        write: { [slow!.testFile]: slow!.test },
        report: baseReport('Failing test', [slow!.testFile]),
        sleepMs: 60_000,
        costUsd: 0.03,
      },
    ];
    // Unsandboxed, so the dead orchestrator's agents really are left behind for the sweeper to
    // reap (a bwrap sandbox dies with its parent: --die-with-parent).
    h = await createLoopHarness({
      script: scriptOf(features, slowRed, { sleepMs: 300 }),
      sandbox: 'none',
    });
    const lh = h;
    const keys: string[] = [];
    for (const f of features) keys.push(await lh.file(f.title));
    const env = {
      LOOPWRIGHT_DATABASE_URL: lh.db.url,
      LOOPWRIGHT_HOME: lh.home,
      LOOPWRIGHT_ACTOR: 'tester',
      PATH: process.env.PATH,
      HOME: process.env.HOME,
    };
    const runs = async () =>
      (
        await sql<RunRow>`select ar.id, t.key as ticket, ar.phase, ar.status, ar.pid, ar.pgid,
          ar.process_started_at, ar.pool_id, ar.error, ar.finished_at
        from loopwright.agent_runs ar join loopwright.tickets t on t.id = ar.ticket_id
          order by ar.created_at`.execute(lh.db.db)
      ).rows;

    const first = startCli(['run', '--concurrency', '2'], env);
    // Kill once the slow RED agent has said everything it will say before its long sleep: it is
    // mid-flight, and (its stdout reader gone) it stays alive until that sleep ends.
    const inFlight = await waitFor(
      async () => {
        const running = (
          await sql<{
            id: string;
            transcript_path: string;
          }>`select ar.id, ar.transcript_path from loopwright.agent_runs ar
        join loopwright.tickets t on t.id = ar.ticket_id
        where t.key = ${keys[0]!} and ar.phase = 'red' and ar.status = 'running' and ar.pgid is
          not null`.execute(lh.db.db)
        ).rows;
        const said = (file: string) => {
          try {
            return readFileSync(file, 'utf8');
          } catch {
            return '';
          }
        };
        const sleeping = running.filter((r) =>
          said(r.transcript_path).includes('wrote .loopwright/report.json'),
        );
        return sleeping.length > 0 ? sleeping : undefined;
      },
      60_000,
      'the slow RED agent asleep',
    );
    first.child.kill('SIGKILL');
    expect(await first.exited).toMatchObject({ signal: 'SIGKILL' });
    // The orphan read its step already and sleeps a minute: however slowly the next run starts on
    // a busy machine, it is still there to be reaped. The re-dispatched RED run is quick.
    await writeFile(
      lh.scriptPath,
      JSON.stringify(scriptOf(features, [], { sleepMs: 300 }), null, 2),
    );
    const [deadPool] = (
      await sql<{ id: string; pid: number }>`select id, pid from loopwright.pools`.execute(lh.db.db)
    ).rows;
    expect(deadPool!.pid).toBe(first.child.pid);
    // The agents of the dead orchestrator lead their own groups: the slow one is still there,
    // orphaned.
    const killed = (await runs()).filter((r) => r.status === 'running');
    expect(killed.length).toBeGreaterThanOrEqual(1);
    expect(killed.map((r) => r.id)).toEqual(expect.arrayContaining(inFlight.map((r) => r.id)));
    expect(killed.every((r) => r.pool_id === deadPool!.id)).toBe(true);
    const orphans = killed.filter((r) => r.pgid !== null && groupAlive(r.pgid));
    expect(orphans.map((r) => r.id)).toEqual(expect.arrayContaining(inFlight.map((r) => r.id)));

    const restartedAt = Date.now();
    const second = startCli(['run', '--until-idle', '--concurrency', '2', '--json'], env);
    const timeout = setTimeout(() => second.child.kill('SIGKILL'), 90_000);
    const exit = await second.exited;
    clearTimeout(timeout);
    expect(exit, exit.output).toMatchObject({ code: 0, signal: null });
    expect(JSON.parse(exit.stdout)).toMatchObject({ stopped: 'idle' });
    // Its start-up sweep found the dead pool, killed the orphans and re-dispatched their work.
    const sweeps = exit.output
      .split('\n')
      .filter((l) => l.includes('Swept dead orchestrator pools'))
      .map((l) => JSON.parse(l) as { pools: string[]; reaped: number; redispatched: number });
    expect(sweeps).toMatchObject([{ pools: [deadPool!.id], redispatched: killed.length }]);
    expect(sweeps[0]!.reaped).toBeGreaterThanOrEqual(1);

    // Every ticket shipped, with a journal that replays exactly and has no gaps.
    for (const key of keys) {
      const ticket = await lh.db.db
        .selectFrom('loopwright.tickets')
        .selectAll()
        .where('key', '=', key)
        .executeTakeFirstOrThrow();
      expect([key, ticket.state], JSON.stringify(ticket.snapshot.context)).toEqual([key, 'LIVE']);
      const merge = (ticket.snapshot.context as { mergeCommit: string }).mergeCommit;
      expect(await isMergedInto(lh.repoPath, merge, 'main')).toBe(true);
      const journal = await readJournal(lh.db.db, ticket.id);
      expect(journal.map((r) => r.seq)).toEqual(journal.map((_, i) => i + 1));
    }
    expect((await verifyJournal(lh.db.db)).mismatches).toEqual([]);

    // The dead pool was swept at start-up, not after a heartbeat timeout (30 s) or a lock expiry (4
    // h).
    const pools = (
      await sql<{
        id: string;
        started_at: Date;
        stopped_at: Date | null;
      }>`select id, started_at, stopped_at from loopwright.pools order by started_at`.execute(
        lh.db.db,
      )
    ).rows;
    expect(pools).toHaveLength(2);
    expect(pools[0]!.stopped_at).not.toBeNull();
    expect(pools[0]!.stopped_at!.getTime() - pools[1]!.started_at.getTime()).toBeLessThan(5_000);

    // The runs the dead pool had running ended failed; their processes are all gone.
    const after = new Map((await runs()).map((r) => [r.id, r]));
    for (const run of killed) {
      expect(after.get(run.id)).toMatchObject({
        status: 'failed',
        error: 'orchestrator pool died',
        pool_id: deadPool!.id,
        pid: run.pid,
      });
      expect(after.get(run.id)!.finished_at!.getTime()).toBeLessThan(restartedAt + 10_000);
      // (A run killed between spawning its agent and recording the pid has no group to check.)
      if (run.pgid === null) continue;
      expect(groupAlive(run.pgid)).toBe(false);
      expect(pidAlive(run.pid!) && processStartTime(run.pid!) === run.process_started_at).toBe(
        false,
      );
    }
    // Each ticket whose agent died was re-dispatched by the sweeper: a REPLAY row, a fresh run id.
    for (const run of killed) {
      const ticket = await lh.db.db
        .selectFrom('loopwright.tickets')
        .select('id')
        .where('key', '=', run.ticket)
        .executeTakeFirstOrThrow();
      const replays = (await readJournal(lh.db.db, ticket.id)).filter(
        (r) => r.event_type === 'REPLAY',
      );
      expect(replays).toMatchObject([
        { actor: `worker:${pools[1]!.id}`, idempotency_key: `redispatch:${run.id}` },
      ]);
    }
    // No run is left running, and each killed run's work was done again by a fresh run.
    expect(
      [...after.values()].filter((r) => r.status === 'running' || r.status === 'queued'),
    ).toEqual([]);
    for (const run of killed) {
      const redo = [...after.values()].filter(
        (r) =>
          r.ticket === run.ticket &&
          r.phase === run.phase &&
          r.status === 'succeeded' &&
          r.pool_id === pools[1]!.id,
      );
      expect(redo.length, `${run.ticket} ${run.phase} re-run`).toBeGreaterThanOrEqual(1);
      // ...right away: the dead pool's locked job was not waited out.
      const redoStarted = (
        await sql<{
          started_at: Date;
        }>`select started_at from loopwright.agent_runs where id = ${redo[0]!.id}::uuid`.execute(
          lh.db.db,
        )
      ).rows[0]!.started_at;
      expect(redoStarted.getTime() - restartedAt).toBeLessThan(15_000);
    }
  }, 150_000);
});

describe('graceful shutdown of the orchestrator', () => {
  it('on SIGTERM kills running agents, exits 143, stops its pool, and the next run ' +
    'finishes the work', async () => {
    const [slow] = [feature('calm')];
    const slowBuild = [
      {
        match: match(slow!, 'generator', 'build'),
        write: { [slow!.module]: slow!.impl, [slow!.liveFile]: slow!.live },
        report: baseReport('Implemented', [slow!.module]),
        sleepMs: 30_000,
      },
    ];
    h2 = await createLoopHarness({ script: scriptOf([slow!], slowBuild) });
    const lh = h2;
    const key = await lh.file(slow!.title);
    const env = {
      LOOPWRIGHT_DATABASE_URL: lh.db.url,
      LOOPWRIGHT_HOME: lh.home,
      PATH: process.env.PATH,
      HOME: process.env.HOME,
    };
    const first = startCli(['run', '--concurrency', '1'], env);
    const build = await waitFor(
      async () =>
        (
          await sql<{ id: string; pgid: number }>`
      select ar.id, ar.pgid from loopwright.agent_runs ar where ar.phase = 'build'
        and ar.status = 'running' and ar.pgid is not null`.execute(lh.db.db)
        ).rows[0],
      60_000,
      'the BUILD agent running',
    );
    const signalled = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    // 143 = 128 + SIGTERM: the documented exit code of a `run` stopped by a signal, after a clean
    // stop.
    expect(exit, exit.output).toMatchObject({ code: 143, signal: null });
    expect(Date.now() - signalled).toBeLessThan(15_000);
    expect(groupAlive(build.pgid)).toBe(false);
    const pool = (
      await sql<{
        stopped: boolean;
      }>`select stopped_at is not null as stopped from loopwright.pools`.execute(lh.db.db)
    ).rows;
    expect(pool).toEqual([{ stopped: true }]);
    const ticket = await lh.db.db
      .selectFrom('loopwright.tickets')
      .select(['state', 'id'])
      .where('key', '=', key)
      .executeTakeFirstOrThrow();
    expect(ticket.state).toBe('BUILD');

    // Resumable: the interrupted BUILD is retried by the next run (here with a quick agent).
    await writeFile(lh.scriptPath, JSON.stringify(scriptOf([slow!])));
    const second = startCli(['run', '--until-idle', '--concurrency', '1'], env);
    expect((await second.exited).code).toBe(0);
    const done = await lh.db.db
      .selectFrom('loopwright.tickets')
      .select('state')
      .where('key', '=', key)
      .executeTakeFirstOrThrow();
    expect(done.state).toBe('LIVE');
    expect((await verifyJournal(lh.db.db)).mismatches).toEqual([]);
    // The retry ran under a new run id; the interrupted run kept its own row.
    const builds = (
      await sql<{ id: string; status: string; error: string | null }>`
        select id, status, error from loopwright.agent_runs where phase = 'build'
          order by started_at`.execute(lh.db.db)
    ).rows;
    expect(builds.map((r) => r.status)).toEqual(['cancelled', 'succeeded']);
    expect(builds[0]).toMatchObject({ id: build.id, error: expect.stringMatching(/^interrupted/) });
    expect(builds[1]!.id).not.toBe(build.id);
  }, 150_000);
});
