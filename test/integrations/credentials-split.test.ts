/**
 * Credentials by tier, in the split deployment: `run --lanes integrations` and `run --lanes agents`
 * as two real processes, both (deliberately) started with the GitHub token in the environment and
 * the Linear key as LINEAR_API_KEY_FILE. While the agents lane runs a Linear ticket's agents (a
 * command agent that works for a moment and writes no report, twice, so the ticket dead-letters),
 * every process of that lane — the relaying parent, the re-executed lane and each agent — is read
 * from /proc/<pid>/environ: no token value, no `*_FILE` pointer to one. The integrations lane does
 * hold the key and uses it (the Linear twin sees the issue moved and the dead letter commented).
 * Then no token is in either lane's log, any transcript, or any database row.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRepository } from '../../src/db/repositories.js';
import { getTicket } from '../../src/db/tickets.js';
import { createLinear } from '../../src/integrations/linear/client.js';
import { importLinearIssues } from '../../src/integrations/linear/import.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { startLinearTwin, type LinearTwin } from '../twins/linear-twin.js';
import { dumpDb } from './helpers.js';

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bin/loopwright.js');
const GH_TOKEN = `ghp_${randomUUID().replace(/-/g, '')}`;
const LINEAR_KEY = `lin_api_${randomUUID().replace(/-/g, '')}`;
const TOKENS = [GH_TOKEN, LINEAR_KEY];

let db: TestDb;
let root: string;
let linear: LinearTwin;
let keyFile: string;
const lanes: { name: string; child: ChildProcess; output: string[] }[] = [];

/**
 * The agent: prints the environment of every loopwright process above it (what a curious agent
 * could read; it lands in its transcript), works for a moment, and writes no report (a contract
 * violation, twice: dead letter).
 */
const AGENT = `
import { readFileSync } from 'node:fs';
const parentOf = (pid) => {
  const stat = readFileSync('/proc/' + pid + '/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};
for (let pid = parentOf(process.pid); pid > 1; pid = parentOf(pid)) {
  if (!readFileSync('/proc/' + pid + '/cmdline', 'utf8').includes('loopwright')) break;
  const env = readFileSync('/proc/' + pid + '/environ', 'utf8').split('\\0').join(' ');
  console.log('ancestor ' + pid + ': ' + env);
}
console.log('own: ' + Object.entries(process.env).map(([k, v]) => k + '=' + v).join(' '));
setTimeout(() => process.exit(0), 1500);
`;

beforeAll(async () => {
  db = await createTestDb(6);
  root = await mkdtemp(path.join(os.tmpdir(), 'lw-tiers-'));
  linear = await startLinearTwin({ apiKey: LINEAR_KEY, teams: ['ENG'] });
  keyFile = path.join(root, 'secrets', 'linear-key');
  await mkdir(path.dirname(keyFile), { recursive: true });
  await writeFile(keyFile, `${LINEAR_KEY}\n`, { mode: 0o600 });
  const repoPath = path.join(root, 'repo');
  await mkdir(repoPath);
  const git = (args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@x.test', ...args], {
      cwd: repoPath,
    });
  git(['init', '-q', '-b', 'main']);
  await writeFile(path.join(repoPath, 'README.md'), '# app\n');
  git(['add', '-A']);
  git(['commit', '-q', '-m', 'init']);
  const agentPath = path.join(root, 'agent.mjs');
  await writeFile(agentPath, AGENT);
  const agent = { provider: 'command', command: [process.execPath, agentPath], vendor: 'none' };
  await insertRepository(db.db, {
    name: 'app',
    path: repoPath,
    base_branch: 'main',
    test_cmd: 'true',
    settings: JSON.stringify({
      sandbox: 'none',
      agents: { lead: agent, generator: agent, validator: agent },
      agentTimeoutSeconds: 30,
      linear: { team: 'ENG' },
    }),
  });
});

afterAll(async () => {
  for (const lane of lanes) if (lane.child.exitCode === null) lane.child.kill('SIGKILL');
  await linear?.close();
  await db?.drop();
  await rm(root, { recursive: true, force: true });
});

function startLane(name: 'integrations' | 'agents') {
  const child = spawn(process.execPath, [BIN, 'run', '--lanes', name, '--no-console'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOOPWRIGHT_DATABASE_URL: db.url,
      LOOPWRIGHT_HOME: path.join(root, 'home'),
      LOOPWRIGHT_LOG_LEVEL: 'debug',
      // The same (careless) environment for both lanes: the agents lane must shed it.
      GITHUB_TOKEN: GH_TOKEN,
      LINEAR_API_KEY_FILE: keyFile,
      LINEAR_API_URL: linear.url,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  lanes.push({ name, child, output });
  return child;
}

/** pid -> parent pid for every live process. */
async function parents(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    out.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
  }
  return out;
}

async function descendantsOf(pid: number): Promise<number[]> {
  const tree = await parents();
  const found = [pid];
  for (let i = 0; i < found.length; i++)
    for (const [child, parent] of tree) if (parent === found[i]) found.push(child);
  return found;
}

const environOf = (pid: number) => readFile(`/proc/${pid}/environ`).catch(() => null);

async function readAll(dir: string): Promise<string> {
  let out = '';
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries)
    if (e.isFile()) out += await readFile(path.join(e.parentPath, e.name), 'utf8');
  return out;
}

describe('credentials by tier (split deployment)', () => {
  it('no token reaches the agents lane, its agents, logs, transcripts or rows', async () => {
    const issue = linear.addIssue({ title: 'Tiered ticket', teamKey: 'ENG' });
    const [imported] = await importLinearIssues(
      db.db,
      await createLinear({ LINEAR_API_KEY: LINEAR_KEY, LINEAR_API_URL: linear.url }),
      { team: 'ENG', dryRun: false, actor: 'operator:test' },
    );
    expect(imported).toMatchObject({ action: 'created', ticket: 'app-1' });
    const integrations = startLane('integrations');
    const agents = startLane('agents');
    // Every process of the agents lane, with what its environment showed.
    const seen = new Map<number, { env: string; agent: boolean }>();
    const deadline = Date.now() + 45_000;
    for (;;) {
      // A sample counts while an agent runs: what an agent could read from its lane right then.
      const sample = new Map<number, string>();
      for (const pid of await descendantsOf(agents.pid!)) {
        const env = await environOf(pid);
        if (env) sample.set(pid, env.toString('utf8'));
      }
      if ([...sample.values()].some((env) => env.includes('LOOPWRIGHT_TICKET=app-1\0')))
        for (const [pid, text] of sample) {
          const before = seen.get(pid);
          seen.set(pid, {
            env: `${before?.env ?? ''}${text}`,
            agent: (before?.agent ?? false) || text.includes('LOOPWRIGHT_TICKET=app-1\0'),
          });
        }
      const t = await getTicket(db.db, 'app-1');
      if (t.state === 'DEAD_LETTER' && issue.comments.length > 0) break;
      if (Date.now() > deadline)
        throw new Error(`ticket is ${t.state}; lanes said: ${lanes.map((l) => l.output.join(''))}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const agentPids = [...seen].filter(([, s]) => s.agent).map(([pid]) => pid);
    expect(agentPids.length).toBeGreaterThanOrEqual(2);
    // The relaying parent, the re-executed lane and at least two agents were read.
    expect(seen.has(agents.pid!)).toBe(true);
    expect(seen.size).toBeGreaterThanOrEqual(4);
    for (const [pid, s] of seen) {
      for (const token of TOKENS) expect(s.env, `pid ${pid}`).not.toContain(token);
      expect(s.env, `pid ${pid}`).not.toContain(keyFile);
    }
    // The re-executed lane and its agents do not even have the variables.
    for (const [pid, s] of seen) {
      if (pid === agents.pid) continue;
      expect(s.env, `pid ${pid}`).not.toMatch(/(^|\0)(GITHUB_TOKEN|LINEAR_API_KEY_FILE)=/);
    }
    // The integrations lane holds them (so the probe above can see a token where there is one)...
    expect((await environOf(integrations.pid!))!.toString()).toContain(GH_TOKEN);
    // ... and used the Linear key: the issue was moved and the dead letter commented.
    expect(linear.stateChanges.map((c) => c.state)).toContain('In Progress');
    expect(issue.comments.join('\n')).toContain('dead-lettered');

    for (const lane of lanes) lane.child.kill('SIGTERM');
    await Promise.all(lanes.map((l) => new Promise((resolve) => l.child.once('exit', resolve))));
    const logs = lanes.map((l) => l.output.join('')).join('\n');
    expect(logs).toContain('app-1');
    const transcripts = await readAll(path.join(root, 'home', 'runs'));
    // The agents did look at their ancestors (the lane's processes) and found no token.
    expect(transcripts).toMatch(/ancestor \d+: .*LOOPWRIGHT_DATABASE_URL=/);
    const rows = await dumpDb(db.db);
    expect(rows).toContain(issue.id);
    for (const token of TOKENS) {
      expect(logs).not.toContain(token);
      expect(transcripts).not.toContain(token);
      expect(rows).not.toContain(token);
    }
  }, 60_000);
});
