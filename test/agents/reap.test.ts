/**
 * Reaping orphaned agent groups left by a dead process: only groups whose leader still has the
 * recorded start time are killed.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processStartTime, reapOrphans } from '../../src/agents/reap.js';
import { eventually, isGone, killGroupQuietly, onCleanup, orphanGroup } from './support.js';

describe('reapOrphans', () => {
  it('kills a detached group whose parent has exited, when the start time matches', async () => {
    const pid = orphanGroup();
    const startTime = processStartTime(pid);
    expect(startTime).toMatch(/^\d+$/);
    expect(isGone(-pid)).toBe(false);

    const result = reapOrphans([{ pid, pgid: pid, startTime: startTime! }]);

    expect(result.killed).toEqual([{ pid, pgid: pid, startTime }]);
    expect(result.skipped).toEqual([]);
    expect(await eventually(() => isGone(-pid))).toBe(true);
  });

  it('leaves a group alone when its leader has a different start time (a reused pid)', async () => {
    const pid = orphanGroup();
    const startTime = processStartTime(pid)!;
    const stale = { pid, pgid: pid, startTime: String(Number(startTime) - 1) };

    const result = reapOrphans([stale]);

    expect(result.killed).toEqual([]);
    expect(result.skipped).toEqual([{ group: stale, reason: 'pid-reused' }]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(isGone(-pid)).toBe(false);
    expect(processStartTime(pid)).toBe(startTime);
  });

  it('kills run-tagged processes that left the group, even with the leader gone', async () => {
    const tag = 'reap-test-' + process.pid + '-' + Date.now();
    const starter = `
      const { spawn } = require('node:child_process');
      const env = { ...process.env, LOOPWRIGHT_PROCESS_TAG: ${JSON.stringify(tag)} };
      const child = spawn('sh', ['-c', 'setsid sleep 60 </dev/null >/dev/null 2>&1 & echo $!'],
        { detached: true, env, stdio: ['ignore', 'pipe', 'ignore'] });
      child.stdout.on('data', (d) => process.stdout.write(child.pid + ' ' + d));`;
    const [leader, escapee] = execFileSync(process.execPath, ['-e', starter], {
      encoding: 'utf8',
    })
      .trim()
      .split(' ')
      .map(Number) as [number, number];
    onCleanup(() => killGroupQuietly(escapee));
    // the sh leader is gone
    expect(await eventually(() => processStartTime(leader) === null)).toBe(true);
    expect(isGone(escapee)).toBe(false);

    const untagged = reapOrphans([{ pid: leader, pgid: leader, startTime: '1' }]);
    expect(untagged.killed).toEqual([]);
    expect(isGone(escapee)).toBe(false);

    const result = reapOrphans([{ pid: leader, pgid: leader, startTime: '1', tag }]);
    expect(result.killed).toHaveLength(1);
    expect(await eventually(() => isGone(escapee))).toBe(true);
  });

  it('skips a leader that is gone and a record that is not a group leader', () => {
    const beyondPidMax = 2 ** 22 + 1; // above Linux's largest pid_max: never a live process
    const self = process.pid;
    const notALeader = { pid: self, pgid: self + 1, startTime: processStartTime(self)! };

    const result = reapOrphans([
      { pid: beyondPidMax, pgid: beyondPidMax, startTime: '1' },
      notALeader,
    ]);

    expect(result.killed).toEqual([]);
    expect(result.skipped.map((s) => s.reason)).toEqual(['gone', 'not-a-leader']);
  });
});
