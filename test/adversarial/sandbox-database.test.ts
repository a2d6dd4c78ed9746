/**
 * Attack: a sandboxed agent goes for the database. It knows the embedded server listens on
 * 127.0.0.1 (the network stays open), so it hunts for the password (server.json, the cluster's
 * files) and tries to log in without one. Both must fail; a cluster someone switched to `trust`
 * is fixed at start-up without losing data.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordlessDatabaseWarning } from '../../src/agents/sandbox/index.js';
import { ensureEmbeddedServer, stopEmbeddedServer } from '../../src/db/embedded/index.js';
import { readServerConfig, type ServerConfig } from '../../src/db/embedded/server-config.js';
import { inSandbox, sandboxDirs } from '../helpers/sandbox.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SLOW = 180_000;

let home: string;
let config: ServerConfig;
const savedHome = process.env.LOOPWRIGHT_HOME;

/**
 * Connect as `user` with `password` (undefined: none); resolves to the error text or 'connected'.
 */
async function tryLogin(user: string, password: string | undefined): Promise<string> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: config.port,
    user,
    database: 'postgres',
    ssl: false,
    connectionTimeoutMillis: 5_000,
    ...(password === undefined ? {} : { password }),
  });
  try {
    await client.connect();
    await client.end();
    return 'connected';
  } catch (error) {
    return (error as Error).message;
  }
}

beforeAll(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'lw-sbx-db-'));
  process.env.LOOPWRIGHT_HOME = home; // the sandbox hides the home the orchestrator uses
  await ensureEmbeddedServer(home);
  config = (await readServerConfig(home))!;
}, SLOW);

afterAll(async () => {
  await stopEmbeddedServer(home).catch(() => undefined);
  const clusterDir = path.dirname(config?.dataDir ?? '/');
  if (clusterDir.startsWith('/var/lib/loopwright/')) await fs.rm(clusterDir, { recursive: true });
  await fs.rm(home, { recursive: true, force: true });
  if (savedHome === undefined) delete process.env.LOOPWRIGHT_HOME;
  else process.env.LOOPWRIGHT_HOME = savedHome;
}, SLOW);

describe('sandboxed agent against the embedded database', () => {
  it("keeps the password file 0600, the orchestrator's; refuses passwordless logins", async () => {
    const stat = await fs.stat(path.join(home, 'db', 'server.json'));
    expect(stat.mode & 0o777).toBe(0o600);
    expect(stat.uid).toBe(process.getuid?.());
    expect(await tryLogin(config.user, undefined)).not.toBe('connected');
    expect(await tryLogin(config.user, 'guess')).toMatch(/password authentication failed/);
    expect(await tryLogin(config.user, config.password)).toBe('connected');
  });

  it('cannot read the password from any file and cannot log in without it', async () => {
    const { ws } = await sandboxDirs();
    const script = `
      const { Client } = require('pg');
      (async () => {
        for (const user of ['loopwright', 'postgres', 'root']) {
          const c = new Client({ host: '127.0.0.1', port: ${config.port}, user,
            database: 'postgres', connectionTimeoutMillis: 3000 });
          try { await c.connect(); console.log('LOGIN-OK ' + user); await c.end(); }
          catch (e) { console.log('refused ' + user); }
        }
      })();`;
    await fs.writeFile(path.join(ws, 'attack.cjs'), script);
    const dataDir = config.dataDir;
    const r = await inSandbox(
      [
        `cat ${home}/db/server.json`,
        `ls -la ${home} ${home}/db`,
        `cat ${dataDir}/pg_hba.conf ${dataDir}/postgresql.conf`,
        `ls -la ${path.dirname(dataDir)} /var/lib/loopwright`,
        `timeout 5 grep -rs "${config.password.slice(0, 8)}" /etc /var/lib /tmp /root ` +
          `2>/dev/null | head -3`,
        'node attack.cjs',
      ].join('; '),
      ws,
      {
        env: {
          PATH: '/usr/local/bin:/usr/bin:/bin',
          NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
        },
      },
    );
    expect(r.output).toContain('refused loopwright');
    expect(r.output).toContain('refused postgres');
    expect(r.output).not.toContain('LOGIN-OK');
    expect(r.output).not.toContain(config.password);
    expect(r.output).toContain(`${home}/db/server.json: No such file`);
    expect(r.output).toContain(`${dataDir}/pg_hba.conf: No such file`);
    expect(r.output).not.toContain('"password"');
    expect(r.output).not.toContain('scram-sha-256');
  });

  it(
    'fixes a cluster switched to trust at start-up, stopped or running, keeping its data',
    async () => {
      const url = (await ensureEmbeddedServer(home)).url;
      const admin = new pg.Client({ connectionString: url, ssl: false });
      await admin.connect();
      await admin
        .query('create table if not exists kept (v text); insert into kept values ($1)', [])
        .catch(async () => {
          await admin.query('create table if not exists kept (v text)');
          await admin.query(`insert into kept values ('still here')`);
        });
      await admin.end();
      const hba = path.join(config.dataDir, 'pg_hba.conf');
      const trusting =
        'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n';

      // Stopped cluster: rewritten before start.
      await stopEmbeddedServer(home);
      await fs.writeFile(hba, trusting);
      await ensureEmbeddedServer(home);
      expect(await fs.readFile(hba, 'utf8')).not.toMatch(/\btrust\b/);
      expect(await tryLogin(config.user, undefined)).not.toBe('connected');

      // Running cluster made to trust (file + reload by someone else): fixed on the next call.
      await fs.writeFile(hba, trusting);
      const reload = new pg.Client({ connectionString: url, ssl: false });
      await reload.connect();
      await reload.query('select pg_reload_conf()');
      await reload.end();
      await new Promise((r) => setTimeout(r, 300));
      expect(await tryLogin(config.user, undefined)).toBe('connected'); // the attack worked...
      await ensureEmbeddedServer(home);
      await new Promise((r) => setTimeout(r, 300));
      expect(await tryLogin(config.user, undefined)).not.toBe('connected'); // ...until start-up
      expect(await passwordlessDatabaseWarning(url)).toBeUndefined();

      const check = new pg.Client({ connectionString: url, ssl: false });
      await check.connect();
      const { rows } = await check.query('select v from kept');
      await check.end();
      expect(rows.length).toBeGreaterThan(0);
    },
    SLOW,
  );
});
