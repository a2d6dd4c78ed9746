import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  embeddedServerStatus,
  ensureEmbeddedServer,
  startEmbeddedServer,
  stopEmbeddedServer,
} from '../src/db/embedded/index.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EMBEDDED_MODULE = pathToFileURL(path.join(REPO_ROOT, 'src/db/embedded/index.ts')).href;
const SLOW = 120_000;

const homes: string[] = [];

/** A fresh home from mkdtemp: mode 0700, i.e. unreachable by `postgres` when we run as root. */
async function freshHome(): Promise<string> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-embedded-test-'));
  homes.push(home);
  return home;
}

async function queryOne(url: string, sql: string): Promise<Record<string, unknown>> {
  const client = new pg.Client({ connectionString: url, ssl: false });
  await client.connect();
  try {
    const { rows } = await client.query(sql);
    return rows[0] as Record<string, unknown>;
  } finally {
    await client.end();
  }
}

/** Run ensureEmbeddedServer in a separate node process that then exits on its own. */
async function ensureInChildProcess(home: string): Promise<{ url: string; started: boolean }> {
  const code = `
    const { ensureEmbeddedServer } = await import(${JSON.stringify(EMBEDDED_MODULE)});
    const result = await ensureEmbeddedServer(process.env.LOOPWRIGHT_HOME);
    process.stdout.write(JSON.stringify(result));
  `;
  const child = await execa(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', code],
    {
      cwd: REPO_ROOT,
      env: { LOOPWRIGHT_HOME: home },
      timeout: SLOW,
    },
  );
  return JSON.parse(child.stdout) as { url: string; started: boolean };
}

function occupyPort(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(server));
  });
}

async function storedConfig(home: string): Promise<{ port: number; dataDir: string }> {
  return JSON.parse(await fs.readFile(path.join(home, 'db', 'server.json'), 'utf8'));
}

afterAll(async () => {
  for (const home of homes) {
    await stopEmbeddedServer(home).catch(() => undefined);
    const config = await storedConfig(home).catch(() => undefined);
    const clusterDir = config && path.dirname(config.dataDir);
    if (clusterDir?.startsWith('/var/lib/loopwright/') && clusterDir !== '/var/lib/loopwright/') {
      await fs.rm(clusterDir, { recursive: true, force: true });
      await fs.rm(`${clusterDir}.json`, { force: true }); // its record (cluster-record.ts)
    }
    await fs.rm(home, { recursive: true, force: true });
  }
}, SLOW);

describe('embedded Postgres server', () => {
  let home: string;
  let firstUrl: string;

  it(
    'initialises and starts a cluster on first ensure, serving the loopwright database',
    async () => {
      home = await freshHome();
      const { url, started } = await ensureEmbeddedServer(home);
      firstUrl = url;
      expect(started).toBe(true);
      expect(url).toMatch(/^postgres:\/\/loopwright:[^@]+@127\.0\.0\.1:\d+\/loopwright$/);
      const row = await queryOne(url, 'select 1 as one, current_database() as db');
      expect(row).toEqual({ one: 1, db: 'loopwright' });
      const mode = (await fs.stat(path.join(home, 'db', 'server.json'))).mode & 0o777;
      expect(mode).toBe(0o600);
    },
    SLOW,
  );

  it(
    'reuses the running server on a second ensure',
    async () => {
      const again = await ensureEmbeddedServer(home);
      expect(again).toEqual({ url: firstUrl, started: false });
    },
    SLOW,
  );

  it('reports a running server in status', async () => {
    const status = await embeddedServerStatus(home);
    expect(status).toMatchObject({ initialised: true, running: true, url: firstUrl, home });
    expect(status.pid).toBeGreaterThan(0);
    expect(status.port).toBe(Number(new URL(firstUrl).port));
    await expect(fs.stat(status.logFile ?? '')).resolves.toBeTruthy();
  });

  it(
    'moves to a free port when the stored port is taken at start',
    async () => {
      const oldPort = (await storedConfig(home)).port;
      await stopEmbeddedServer(home);
      const blocker = await occupyPort(oldPort);
      try {
        const status = await startEmbeddedServer(home);
        expect(status.running).toBe(true);
        expect(status.port).not.toBe(oldPort);
        expect((await storedConfig(home)).port).toBe(status.port);
        expect(await queryOne(status.url ?? '', 'select 1 as one')).toEqual({ one: 1 });
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    },
    SLOW,
  );

  it(
    'stops the server, and status then reports it not running',
    async () => {
      const { url } = await embeddedServerStatus(home);
      expect(await stopEmbeddedServer(home)).toEqual({ wasRunning: true });
      const status = await embeddedServerStatus(home);
      expect(status).toMatchObject({ initialised: true, running: false });
      expect(status.pid).toBeUndefined();
      await expect(queryOne(url ?? '', 'select 1')).rejects.toThrow();
      expect(await stopEmbeddedServer(home)).toEqual({ wasRunning: false });
    },
    SLOW,
  );

  it(
    'breaks a start lock left behind by a process that died',
    async () => {
      const deadChild = execa(process.execPath, ['-e', '']);
      const deadPid = deadChild.pid;
      await deadChild;
      const lockDir = path.join(home, 'db', 'lock');
      await fs.mkdir(lockDir);
      const owner = {
        pid: deadPid,
        host: os.hostname(),
        token: 'dead',
        acquiredAt: new Date().toISOString(),
      };
      await fs.writeFile(path.join(lockDir, 'owner.json'), JSON.stringify(owner));
      const startedAt = Date.now();
      const { started } = await ensureEmbeddedServer(home);
      expect(started).toBe(true);
      // Well under the 60 s staleness age: the dead pid, not the clock, freed the lock.
      expect(Date.now() - startedAt).toBeLessThan(30_000);
      await expect(fs.stat(lockDir)).rejects.toThrow();
    },
    SLOW,
  );

  it(
    'keeps the server running after the process that started it exits',
    async () => {
      const childHome = await freshHome();
      const fromChild = await ensureInChildProcess(childHome);
      expect(fromChild.started).toBe(true);
      const status = await embeddedServerStatus(childHome);
      expect(status.running).toBe(true);
      expect(await queryOne(fromChild.url, 'select 1 as one')).toEqual({ one: 1 });
    },
    SLOW,
  );

  it(
    'lets two concurrent ensures on a fresh home share one cluster',
    async () => {
      const sharedHome = await freshHome();
      const results = await Promise.all([
        ensureInChildProcess(sharedHome),
        ensureInChildProcess(sharedHome),
        ensureEmbeddedServer(sharedHome),
      ]);
      expect(results.filter((r) => r.started)).toHaveLength(1);
      expect(new Set(results.map((r) => r.url)).size).toBe(1);
      expect(await queryOne(results[0].url, 'select 1 as one')).toEqual({ one: 1 });
      const entries = await fs.readdir(path.join(sharedHome, 'db'));
      expect(entries.filter((name) => name.startsWith('lock'))).toEqual([]);
    },
    SLOW,
  );
});
