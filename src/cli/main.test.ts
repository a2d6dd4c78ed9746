import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError, DependencyCycleError } from '../errors.js';
import type { CliIo } from './command.js';
import { main, reportError } from './main.js';
import { COMMANDS } from './registry.js';

function capture(env: NodeJS.ProcessEnv = {}) {
  const out = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: (s) => void (out.stdout += s),
    stderr: (s) => void (out.stderr += s),
    env,
    cwd: '/',
  };
  return { io, out };
}

describe('main without a database', () => {
  it('prints the overview for no arguments, --help and help', async () => {
    for (const argv of [[], ['--help'], ['help']]) {
      const { io, out } = capture();
      expect(await main(argv, io)).toBe(0);
      expect(out.stdout).toMatch(/^commands:$/m);
      for (const c of COMMANDS) expect(out.stdout).toContain(`  ${c.name}`);
    }
  });

  it("prints one command's usage for help <cmd> and <cmd> --help", async () => {
    for (const argv of [
      ['help', 'ticket'],
      ['ticket', 'add', '--help'],
      ['ticket', '-h'],
    ]) {
      const { io, out } = capture();
      expect(await main(argv, io)).toBe(0);
      expect(out.stdout).toMatch(/^ {2}loopwright ticket add --repo R --title T/m);
    }
  });

  it('every registered command loads and has a usage naming itself', async () => {
    for (const entry of COMMANDS) {
      const command = await entry.load();
      expect(command.name).toBe(entry.name);
      expect(command.usage).toContain(`loopwright ${entry.name}`);
    }
  });

  it('refuses an unknown command or help topic with exit 2', async () => {
    const { io, out } = capture();
    expect(await main(['nope'], io)).toBe(2);
    expect(await main(['help', 'nope'], io)).toBe(2);
    expect(out.stderr).toBe('loopwright: unknown command: nope (see: loopwright help)\n'.repeat(2));
  });

  it('prints the version', async () => {
    const { io, out } = capture();
    expect(await main(['--version'], io)).toBe(0);
    expect(out.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('reportError', () => {
  it('maps bad input to 2 and other failures to 1, one line each', () => {
    const { io, out } = capture();
    expect(reportError(io, new DependencyCycleError(['a-1', 'a-2', 'a-1']))).toBe(2);
    expect(reportError(io, new DatabaseUnavailableError('down\nreally'))).toBe(1);
    expect(reportError(io, new Error('boom'))).toBe(1);
    expect(out.stderr).toBe(
      'loopwright: dependency cycle: a-1 -> a-2 -> a-1\nloopwright: down ' +
        'really\nloopwright: boom\n',
    );
  });

  it('adds the stack only with LOOPWRIGHT_DEBUG=1', () => {
    const quiet = capture();
    reportError(quiet.io, new Error('boom'));
    expect(quiet.out.stderr).not.toMatch(/\n\s+at /);
    const debug = capture({ LOOPWRIGHT_DEBUG: '1' });
    reportError(debug.io, new Error('boom'));
    expect(debug.out.stderr).toMatch(/^loopwright: boom\nError: boom\n\s+at /);
  });
});
