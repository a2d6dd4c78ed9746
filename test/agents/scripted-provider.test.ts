/**
 * The scripted provider end to end: the scripted agent (a real subprocess speaking Claude Code's
 * stream-json) parsed by the production claude adapter.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProvider } from '../../src/agents/providers.js';
import { invocation, makeSandbox, transcriptEvents } from './support.js';

const scripted = createProvider('scripted');

describe('scripted provider', () => {
  it('plays the first matching step: files, removals, symlinks, report and cost', async () => {
    const sandbox = makeSandbox();
    writeFileSync(path.join(sandbox.cwd, 'obsolete.txt'), 'old');
    const report = { summary: 'implemented add', confidence: 0.9, filesChanged: ['src/add.ts'] };
    const script = sandbox.writeScript({
      steps: [
        {
          match: { ticket: 'LW-1', phase: 'RED' },
          write: { 'wrong.txt': 'phase RED must not match' },
        },
        { match: { title: 'Teach nothing' }, write: { 'wrong.txt': 'title must not match' } },
        {
          match: {
            ticket: 'LW-1',
            title: 'add numbers',
            role: 'generator',
            phase: 'BUILD',
            attempt: 2,
            round: 0,
          },
          write: {
            'src/add.ts': 'export const add = (a: number, b: number) => a + b;\n',
            '../escaped.txt': 'outside',
          },
          remove: ['obsolete.txt'],
          symlink: { 'link-to-secrets': '/etc/passwd' },
          report,
          costUsd: 0.42,
          tokensIn: 1200,
          tokensOut: 300,
        },
        { write: { 'wrong.txt': 'a later step must not be played' } },
      ],
    });
    const outcome = await scripted.run(
      invocation(sandbox, {
        model: 'scripted-model',
        env: {
          LOOPWRIGHT_SCRIPT: script,
          LOOPWRIGHT_TICKET: 'LW-1',
          LOOPWRIGHT_TICKET_TITLE: 'Teach the calculator to add numbers',
          LOOPWRIGHT_ATTEMPT: '2',
          LOOPWRIGHT_ROUND: '0',
        },
      }),
    );

    expect(outcome).toMatchObject({
      status: 'ok',
      exitCode: 0,
      costUsd: 0.42,
      tokensIn: 1200,
      tokensOut: 300,
      subtype: 'success',
      outputTruncated: false,
    });
    expect(outcome.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(readFileSync(path.join(sandbox.cwd, 'src/add.ts'), 'utf8')).toContain('a + b');
    expect(readFileSync(path.join(sandbox.root, 'escaped.txt'), 'utf8')).toBe('outside');
    expect(existsSync(path.join(sandbox.cwd, 'obsolete.txt'))).toBe(false);
    expect(existsSync(path.join(sandbox.cwd, 'wrong.txt'))).toBe(false);
    expect(lstatSync(path.join(sandbox.cwd, 'link-to-secrets')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path.join(sandbox.cwd, 'link-to-secrets'))).toBe('/etc/passwd');
    expect(
      JSON.parse(readFileSync(path.join(sandbox.cwd, '.loopwright/report.json'), 'utf8')),
    ).toEqual(report);

    const events = transcriptEvents(sandbox.transcript());
    expect(events[0]).toMatchObject({
      type: 'system',
      subtype: 'init',
      model: 'scripted-model',
      session_id: outcome.sessionId,
    });
    expect(events.at(-1)).toMatchObject({
      type: 'result',
      is_error: false,
      total_cost_usd: 0.42,
    });
  });

  it('fails with is_error and exit 1 when no step matches the task', async () => {
    const sandbox = makeSandbox();
    const script = sandbox.writeScript({ steps: [{ match: { ticket: 'LW-2' }, report: {} }] });
    const outcome = await scripted.run(
      invocation(sandbox, { env: { LOOPWRIGHT_SCRIPT: script, LOOPWRIGHT_TICKET: 'LW-1' } }),
    );

    expect(outcome.status).toBe('error');
    expect(outcome.exitCode).toBe(1);
    expect(outcome.errorMessage).toMatch(/no scripted step matches .*"ticket":"LW-1"/);
    expect(existsSync(path.join(sandbox.cwd, '.loopwright/report.json'))).toBe(false);
  });

  it('writes a raw report verbatim and honours a scripted failure', async () => {
    const sandbox = makeSandbox();
    const script = sandbox.writeScript({
      steps: [{ rawReport: '{"summary": "unterminated', isError: true, costUsd: 0.01 }],
    });
    const outcome = await scripted.run(invocation(sandbox, { env: { LOOPWRIGHT_SCRIPT: script } }));

    expect(outcome).toMatchObject({
      status: 'error',
      exitCode: 1,
      costUsd: 0.01,
      subtype: 'error_during_execution',
    });
    expect(readFileSync(path.join(sandbox.cwd, '.loopwright/report.json'), 'utf8')).toBe(
      '{"summary": "unterminated',
    );
  });

  it('is not ok when the agent reports success but exits non-zero', async () => {
    const sandbox = makeSandbox();
    const script = sandbox.writeScript({ steps: [{ report: { summary: 'done' }, exitCode: 3 }] });
    const outcome = await scripted.run(invocation(sandbox, { env: { LOOPWRIGHT_SCRIPT: script } }));

    expect(outcome.status).toBe('error');
    expect(outcome.exitCode).toBe(3);
    expect(outcome.errorMessage).toBe('agent exited with code 3');
  });

  it('takes the script from the provider config; an unreadable one is an error', async () => {
    const sandbox = makeSandbox();
    const script = sandbox.writeScript({ steps: [{ report: { summary: 'configured' } }] });
    const configured = await createProvider('scripted', { script }).run(invocation(sandbox));
    expect(configured.status).toBe('ok');

    writeFileSync(script, '{"steps": [{"sleepMs": "soon"}]}');
    const broken = await createProvider('scripted', { script }).run(invocation(sandbox));
    expect(broken.status).toBe('error');
    expect(broken.errorMessage).toMatch(/cannot read script/);
  });
});
