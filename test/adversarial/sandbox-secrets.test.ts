/**
 * Attack: a sandboxed agent hunts for the orchestrator's secrets. The orchestrator (this test
 * process) holds GitHub, Linear and AWS credentials in its environment and a secret file in
 * LOOPWRIGHT_HOME; another ticket's workspace and the registered repository sit beside the
 * agent's. The agent reads /proc of every process it can see, lists processes, and walks the
 * paths. Nothing may leak; its own workspace (under LOOPWRIGHT_HOME) and honest git work do.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/config/package-root.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentEnv } from '../../src/agents/agent-env.js';
import { createProvider } from '../../src/agents/providers.js';
import { grantToSandbox } from '../../src/agents/sandbox/index.js';
import { inSandbox } from '../helpers/sandbox.js';

const SECRETS = {
  GITHUB_TOKEN: 'ghp_plantedGithubSecret0123456789',
  LINEAR_API_KEY: 'lin_api_plantedLinearSecret98765',
  AWS_SECRET_ACCESS_KEY: 'aws/plantedAwsSecretKey/ABCDEF',
  DATABASE_URL: 'postgres://loopwright:plantedDbPassword@127.0.0.1:1/loopwright',
};
const HOME_SECRET = 'planted-home-secret-5f3a';
const REPO_SECRET = 'planted-repo-content-77e1';
const OTHER_WS_SECRET = 'planted-other-workspace-91b0';

let root: string;
let home: string;
let ws: string;
let otherWs: string;
let repo: string;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-sbx-secrets-'));
  home = path.join(root, 'home');
  ws = path.join(home, 'worktrees', 'app-1');
  otherWs = path.join(home, 'worktrees', 'app-2');
  repo = path.join(root, 'repo');
  for (const dir of [ws, otherWs, repo, path.join(home, 'db')])
    await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(home, 'db', 'server.json'), `{"password":"${HOME_SECRET}"}`, {
    mode: 0o600,
  });
  await fs.writeFile(path.join(home, 'secrets.env'), `TOKEN=${HOME_SECRET}\n`, { mode: 0o644 });
  await fs.writeFile(path.join(otherWs, 'notes.txt'), OTHER_WS_SECRET, { mode: 0o644 });
  await fs.writeFile(path.join(repo, 'README'), REPO_SECRET, { mode: 0o644 });
  execFileSync('git', ['init', '-q', ws]);
  await fs.writeFile(path.join(ws, 'app.js'), 'module.exports = 1;\n');
  await grantToSandbox(ws, { exclude: ['.git'] });
  for (const [name, value] of Object.entries({ ...SECRETS, LOOPWRIGHT_HOME: home })) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await fs.rm(root, { recursive: true, force: true });
});

/** The agent's environment exactly as production builds it, from this process's. */
function agentEnv(): Record<string, string> {
  return buildAgentEnv({ vendor: 'anthropic', task: { LOOPWRIGHT_TICKET: 'app-1' } });
}

function run(command: string) {
  return inSandbox(command, ws, {
    env: agentEnv(),
    spec: { readOnly: [path.join(ws, '.git')], hide: [repo] },
  });
}

function expectNoLeak(output: string): void {
  for (const secret of [...Object.values(SECRETS), HOME_SECRET, REPO_SECRET, OTHER_WS_SECRET])
    expect(output).not.toContain(secret);
  expect(output).not.toContain('plantedDbPassword');
}

describe('a sandboxed agent looking for secrets', () => {
  it('cannot read the orchestrator environment through /proc, nor see its processes', async () => {
    const r = await run(
      [
        `cat /proc/${process.pid}/environ`,
        `cat /proc/${process.ppid}/environ`,
        'for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do tr "\\0" "\\n" < "$f"; done',
        'env',
        'ps -eo pid,user,args',
      ]
        .map((c) => `(${c}) 2>&1`)
        .join('; '),
    );
    expectNoLeak(r.output);
    expect(r.output).toContain('LOOPWRIGHT_TICKET=app-1'); // it did read its own environment
    expect(r.output).not.toContain('vitest'); // no host process is visible
    const pids = r.output.match(/^\s*\d+ /gm) ?? [];
    expect(pids.length).toBeLessThan(8);
  });

  it('cannot read LOOPWRIGHT_HOME, another workspace or the registered repository', async () => {
    const r = await run(
      [
        `cat ${home}/secrets.env ${home}/db/server.json`,
        `ls -la ${home} ${home}/worktrees`,
        `cat ${otherWs}/notes.txt`,
        `cat ${repo}/README`,
        `ls -la ${repo} ${root}`,
        // loopwright's own package is shown read-only on purpose (its tests spell out the planted
        // values).
        `timeout 5 grep -rs --exclude-dir=${path.basename(packageRoot())} ` +
          `planted ${os.homedir()} /root /tmp /var/tmp /home | head`,
      ]
        .map((c) => `(${c}) 2>&1`)
        .join('; '),
    );
    expectNoLeak(r.output);
    expect(r.output).toContain(`${home}/secrets.env: No such file`);
    expect(r.output).toContain(`${otherWs}/notes.txt: No such file`);
  });

  it('a command-provider agent gets the same sandbox through the provider path', async () => {
    const provider = createProvider('command', {
      command: [
        '/bin/sh',
        '-c',
        `cat /proc/*/environ ${home}/secrets.env 2>&1 | tr "\\0" "\\n"; id -u`,
      ],
      vendor: 'anthropic',
    });
    const transcriptPath = path.join(root, 'runs', 'agent.log');
    const outcome = await provider.run({
      runId: 'run-sbx',
      role: 'generator',
      phase: 'BUILD',
      cwd: ws,
      prompt: 'attack',
      systemPrompt: 'You are the Generator.',
      timeoutMs: 20_000,
      maxOutputBytes: 1 << 20,
      transcriptPath,
      env: { LOOPWRIGHT_TICKET: 'app-1' },
      sandbox: { mode: 'bwrap', writable: [ws], readOnly: [path.join(ws, '.git')], hide: [repo] },
    });
    const transcript = await fs.readFile(transcriptPath, 'utf8');
    expect(outcome.status).toBe('ok');
    expectNoLeak(transcript);
    expect(transcript).toContain('LOOPWRIGHT_TICKET=app-1');
    if (process.getuid?.() === 0) expect(transcript.trim().split('\n').at(-1)).not.toBe('0');
  });

  it('honest twin: writes in its workspace and runs git there', async () => {
    const r = await run(
      'echo hello > hello.txt && git status --porcelain && git log -1 2>&1; id -un',
    );
    expect(r.output).toContain('?? app.js');
    expect(r.output).toContain('?? hello.txt');
    expect(r.exitCode).toBe(0);
    expect(await fs.readFile(path.join(ws, 'hello.txt'), 'utf8')).toBe('hello\n');
  });
});
