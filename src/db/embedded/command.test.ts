import { describe, expect, it } from 'vitest';
import { runCommand } from './command.js';

describe('runCommand', () => {
  it('returns the exit code, stdout, and both streams interleaved', async () => {
    const r = await runCommand('sh', ['-c', 'echo out; sleep 0.05; echo err >&2; exit 3']);
    expect(r).toEqual({ exitCode: 3, stdout: 'out\n', output: 'out\nerr\n' });
  });

  it('says why there is no exit code: not found, or timed out', async () => {
    const missing = await runCommand('/nonexistent/tool', []);
    expect(missing.exitCode).toBeUndefined();
    expect(missing.failure).toMatch(/cannot start \/nonexistent\/tool: .*ENOENT/);
    const slow = await runCommand('sleep', ['5'], { timeoutMs: 100 });
    expect(slow.exitCode).toBeUndefined();
    expect(slow.failure).toBe('sleep timed out after 100 ms');
  });

  it('runs with exactly the environment and directory given', async () => {
    const r = await runCommand('sh', ['-c', 'echo "$ONLY:$HOME:$(pwd)"'], {
      env: { ONLY: 'x', PATH: process.env.PATH },
      cwd: '/tmp',
    });
    expect(r.stdout).toBe('x::/tmp\n');
  });
});
