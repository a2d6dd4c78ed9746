/**
 * Where the embedded cluster lives and how it goes away: `db status` names its data dir, owner and
 * size; `db destroy` refuses while someone is connected and without --yes, then stops it and
 * deletes every file of it (as root, its /var/lib/loopwright/<hash> folder and record too).
 * Deleting the home leaves a root cluster behind: the next start reuses it through its record,
 * and without a record says to run `loopwright db destroy`, which finds and removes it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedServerStatus, ensureEmbeddedServer } from '../../src/db/embedded/index.js';
import { isRoot } from '../../src/db/embedded/os-user.js';
import { clusterRecordPath } from '../../src/db/embedded/server-config.js';
import type { TestDb } from '../helpers/db.js';
import { expectBadInput, parseContract, removeTempDirs, runCli, tempDir } from './helpers.js';

const t = {} as TestDb; // runCli needs no database for `db` commands on the embedded server
let home: string;
let dataDir: string;
const env = () => ({
  LOOPWRIGHT_HOME: home,
  LOOPWRIGHT_ACTOR: 'tester',
  PATH: process.env.PATH,
  HOME: process.env.HOME,
});
const db = (...args: string[]) => runCli(t, ['db', ...args], { env: env() });

async function query(url: string, text: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

// A record whose cluster folder is gone (deleted by hand): the next initialisation removes it.
const staleRecord = `/var/lib/loopwright/${randomBytes(6).toString('hex')}.json`;

beforeAll(async () => {
  home = tempDir('lw-destroy-home-');
  if (isRoot()) {
    mkdirSync('/var/lib/loopwright', { recursive: true });
    writeFileSync(staleRecord, '{}');
  }
  const { url } = await ensureEmbeddedServer(home);
  dataDir = (await embeddedServerStatus(home)).dataDir!;
  await query(url, 'create table kept (v text); insert into kept values ($$still here$$)');
}, 180_000);

afterAll(async () => {
  // Whatever a failed assertion left: the cluster goes with db destroy.
  if (existsSync(dataDir)) await db('destroy', '--yes', '--force');
  rmSync(staleRecord, { force: true });
  removeTempDirs();
}, 120_000);

describe('loopwright db status and db destroy', () => {
  it('initialising a cluster removes records whose cluster is gone', () => {
    expect(existsSync(staleRecord)).toBe(false);
  });

  it('status names the data dir, port, owner and size', async () => {
    const result = await db('status', '--json');
    expect(result.code, result.stderr).toBe(0);
    const doc = parseContract(result.stdout);
    expect(doc).toMatchObject({
      dataDir,
      running: true,
      owner: isRoot() ? 'postgres' : expect.any(String),
    });
    expect(doc.sizeBytes).toBeGreaterThan(1024 * 1024);
    expect(doc.port).toEqual(expect.any(Number));
    if (isRoot()) expect(dataDir).toMatch(/^\/var\/lib\/loopwright\/[0-9a-f]{12}\/data$/);
    const text = await db('status');
    expect(text.stdout).toMatch(/^owner: +\S+$/m);
    expect(text.stdout).toMatch(/^size: +\d+(\.\d)? MiB$/m);
  });

  it('destroy refuses without --yes when there is no terminal, and while in use', async () => {
    expectBadInput(await db('destroy'), /pass --yes to confirm/);
    const client = new pg.Client({ connectionString: (await db('url')).stdout.trim() });
    await client.connect();
    try {
      expectBadInput(await db('destroy', '--yes'), /in use \(1 other connection: .*--force/);
    } finally {
      await client.end();
    }
    expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
    expect((await embeddedServerStatus(home)).running).toBe(true);
  });

  it('a deleted home finds its cluster again through the record beside it', async () => {
    if (isRoot()) expect(existsSync(clusterRecordPath(dataDir)!)).toBe(true);
    const before = (await db('url')).stdout.trim();
    rmSync(home, { recursive: true, force: true });
    mkdirSync(home, { mode: 0o700 });
    if (!isRoot()) return; // the cluster lived in the home and went with it
    const { url } = await ensureEmbeddedServer(home);
    expect(new URL(url).password).toBe(new URL(before).password);
    expect(await query(url, 'select v from kept')).toEqual([{ v: 'still here' }]);
  }, 120_000);

  it('without a record the next start says to run db destroy, which removes it', async () => {
    if (!isRoot()) return;
    rmSync(home, { recursive: true, force: true });
    rmSync(clusterRecordPath(dataDir)!, { force: true });
    mkdirSync(home, { mode: 0o700 });
    await expect(ensureEmbeddedServer(home)).rejects.toThrow(/Run "loopwright db destroy"/);
    const status = await db('status');
    expect(status.stdout).toMatch(/a cluster for it is left in .*loopwright db destroy removes it/);
    const destroyed = await db('destroy', '--yes');
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stdout).toMatch(/^destroyed the embedded cluster in \/var\/lib\/loopwright\//);
    expect(existsSync(path.dirname(dataDir))).toBe(false);
    expect((await db('destroy', '--yes')).stdout).toMatch(/^nothing to destroy/);
    expect((await db('status')).stdout).toMatch(/is not initialised/);
  }, 120_000);
});
