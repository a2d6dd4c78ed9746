/**
 * Untrusted reads of what an agent left in its workspace: a report.json that is a symlink (to a
 * file holding a planted secret), a `.loopwright` directory replaced by a symlink, a FIFO, an
 * oversized or non-UTF-8 report, a symlinked AGENTS.md. The orchestrator reads none of their
 * targets; each is a clear contract violation.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeHandover, systemPromptFor, type Handover } from '../../src/phases/handover.js';
import { REPORT_MAX_BYTES, readReport } from '../../src/phases/report-schema.js';
import { baseReport } from '../helpers/loop-script.js';
import { tempDir } from '../workspace/helpers.js';

const SECRET = 'planted-secret-7f3a';

/** A valid validate-phase report whose summary carries the secret. */
const secretReport = JSON.stringify({
  ...baseReport(`the secret is ${SECRET}`),
  verdict: 'PASS',
  findings: [],
});

async function setup(): Promise<{ ws: string; secretFile: string }> {
  const tmp = await tempDir('lw-report-');
  const ws = path.join(tmp, 'ws');
  await mkdir(path.join(ws, '.loopwright'), { recursive: true });
  const secretFile = path.join(tmp, 'secret.json');
  await writeFile(secretFile, secretReport);
  return { ws, secretFile };
}

describe('reading report.json as untrusted input', () => {
  it('accepts a regular report file (the honest twin)', async () => {
    const { ws } = await setup();
    await writeFile(path.join(ws, '.loopwright', 'report.json'), secretReport);
    const read = await readReport(ws, 'validate');
    expect(read.ok).toBe(true);
  });

  it('refuses a symlinked report and never reads its target', async () => {
    const { ws, secretFile } = await setup();
    await symlink(secretFile, path.join(ws, '.loopwright', 'report.json'));
    const read = await readReport(ws, 'validate');
    expect(read).toEqual({
      ok: false,
      errors: ['.loopwright/report.json is a symlink, not a regular file'],
    });
    expect(JSON.stringify(read)).not.toContain(SECRET);
  });

  it('refuses a report reached through a symlinked .loopwright directory', async () => {
    const { ws, secretFile } = await setup();
    const elsewhere = path.join(path.dirname(secretFile), 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(path.join(elsewhere, 'report.json'), secretReport);
    execFileSync('rm', ['-rf', path.join(ws, '.loopwright')]);
    await symlink(elsewhere, path.join(ws, '.loopwright'));
    const read = await readReport(ws, 'validate');
    expect(read.ok).toBe(false);
    expect(JSON.stringify(read)).toMatch(/\.loopwright is not a directory/);
    expect(JSON.stringify(read)).not.toContain(SECRET);
  });

  it('refuses a FIFO without blocking, an oversized report and invalid UTF-8', async () => {
    const { ws } = await setup();
    const report = path.join(ws, '.loopwright', 'report.json');
    execFileSync('mkfifo', [report]);
    expect(await readReport(ws, 'validate')).toEqual({
      ok: false,
      errors: ['.loopwright/report.json is not a regular file'],
    });
    execFileSync('rm', [report]);
    await writeFile(report, ' '.repeat(REPORT_MAX_BYTES + 1));
    expect(JSON.stringify(await readReport(ws, 'validate'))).toMatch(/larger than 1048576 bytes/);
    await writeFile(report, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(JSON.stringify(await readReport(ws, 'validate'))).toMatch(/not valid UTF-8/);
  });

  it('leaves a symlinked AGENTS.md out of the system prompt', async () => {
    const { ws, secretFile } = await setup();
    await symlink(secretFile, path.join(ws, 'AGENTS.md'));
    const prompt = await systemPromptFor('generator', ws);
    expect(prompt).not.toContain(SECRET);
    await writeFile(path.join(ws, 'CLAUDE.md'), 'Use tabs.\n');
    expect(await systemPromptFor('generator', ws)).toContain('Use tabs.');
  });
});

describe('the handover is verifiable', () => {
  it('writes approved-plan.json so its sha256sum equals the digest in task.md', async () => {
    const { ws } = await setup();
    const plan = {
      goal: 'g',
      allowedFiles: ['src/a.js'],
      testFiles: ['test/a.test.js'],
      acceptanceCriteria: [{ name: 'a', test: 'a' }],
    };
    const planText = JSON.stringify(plan, null, 2); // as the artifact stores it, no newline
    const sha = createHash('sha256').update(planText).digest('hex');
    const h: Handover = {
      ticketKey: 'T-1',
      title: 't',
      body: 'b',
      repoName: 'r',
      role: 'generator',
      phase: 'build',
      counter: '1 of 3',
      baseCommit: 'a'.repeat(40),
      redCommit: 'b'.repeat(40),
      testCommand: 'npm test',
      checks: [],
      plan,
      planText,
      approvedPlanSha: sha,
      findings: [],
    };
    await writeHandover(ws, h);
    // Hash the file exactly as an agent following its charter would.
    const printed = execFileSync('sha256sum', ['.loopwright/approved-plan.json'], { cwd: ws })
      .toString()
      .split(' ')[0];
    expect(printed).toBe(sha);
    const task = await readFile(path.join(ws, '.loopwright', 'task.md'), 'utf8');
    expect(task).toContain(`sha256 ${sha}`);
    expect(task).toContain(`| red commit | ${'b'.repeat(40)} |`);
    // The charter and contract are copies in the handover, not a path into the package.
    expect(task).not.toMatch(/\/skills\//);
    expect(await readFile(path.join(ws, '.loopwright', 'charter.md'), 'utf8')).toMatch(
      /Generator/i,
    );
    expect(await readFile(path.join(ws, '.loopwright', 'report-contract.md'), 'utf8')).toMatch(
      /report/i,
    );
  });
});
