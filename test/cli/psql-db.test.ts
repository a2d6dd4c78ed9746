import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runStatement } from '../../src/db/admin.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withDatabase } from '../global-setup.js';
import type { TestDb } from '../helpers/db.js';
import { cliDb, dropCliDb, expectBadInput, runCli, tempDir } from './helpers.js';

let t: TestDb;

beforeAll(async () => {
  t = await cliDb('app');
  await runCli(t, ['ticket', 'add', '--repo', 'app', '--title', 'one']);
});
afterAll(() => dropCliDb(t));

/** An environment with no database URL: loopwright falls back to the embedded server in `home`. */
function embeddedEnv(home: string): NodeJS.ProcessEnv {
  return {
    LOOPWRIGHT_HOME: home,
    LOOPWRIGHT_ACTOR: 'tester',
    PATH: process.env.PATH,
    HOME: process.env.HOME,
  };
}

describe('loopwright psql', () => {
  it('runs -c on the database in use, with the loopwright schema on the search path', async () => {
    const result = await runCli(t, ['psql', '-c', 'select count(*) from v_board']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^ count \n-+\n +1\n\(1 row\)\n/);
    const searchPath = await runCli(t, ['psql', '-c', 'show search_path', '--', '-A', '-t']);
    expect(searchPath.stdout).toBe('loopwright,public\n');
  });

  it('hands psql the credentials in PG* variables, never on its command line', async () => {
    // A stand-in psql that shows what it was given.
    const bin = tempDir('lw-fake-psql-');
    writeFileSync(
      path.join(bin, 'psql'),
      '#!/bin/sh\necho "args: $*"\necho "env: $PGUSER $PGPASSWORD $PGHOST $PGPORT ' +
        '$PGDATABASE $PGOPTIONS"\n',
      { mode: 0o755 },
    );
    const url = new URL(t.url);
    // the server trusts this connection; the password is only carried
    if (!url.password) url.password = 'pw-s3cret';
    const env = { LOOPWRIGHT_DATABASE_URL: url.toString(), PATH: `${bin}:${process.env.PATH}` };
    const result = await runCli(t, ['psql', '-c', 'select 1'], { env });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const [args, vars] = result.stdout.split('\n');
    expect(args).toBe('args: -X -v ON_ERROR_STOP=1 -c select 1');
    expect(vars).toBe(
      `env: ${url.username} ${decodeURIComponent(url.password)} ${url.hostname} ${url.port} ` +
        `${url.pathname.slice(1)} -c search_path=loopwright,public`,
    );
  });

  it("exits 1 and forwards psql's error when the SQL fails", async () => {
    const result = await runCli(t, ['psql', '-c', 'select * from no_such_table']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/relation "no_such_table" does not exist/);
  });

  it('says in one line that psql is missing', async () => {
    const result = await runCli(t, ['psql', '-c', 'select 1'], {
      env: { LOOPWRIGHT_DATABASE_URL: t.url, PATH: '/nonexistent' },
    });
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'loopwright: psql not found on PATH; install the PostgreSQL client (e.g. apt install ' +
        'postgresql-client)\n',
    });
  });

  it('refuses stray arguments that are not after --', async () => {
    expectBadInput(
      await runCli(t, ['psql', 'mydb']),
      'unexpected argument: mydb (pass psql options after --)',
    );
  });
});

describe('loopwright db with an external database', () => {
  it('status reports where the database is and that it answers', async () => {
    const result = await runCli(t, ['db', 'status']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^source: +LOOPWRIGHT_DATABASE_URL$/m);
    expect(result.stdout).toMatch(/^reachable: +yes \(PostgreSQL \d+/m);
  });

  it('status hides the password, exits 1 on an unreachable database; url prints it', async () => {
    const url = 'postgres://lw:s3cret@127.0.0.1:1/factory';
    const env = { DATABASE_URL: url, PATH: process.env.PATH };
    const status = await runCli(t, ['db', 'status', '--json'], { env });
    expect(status.code).toBe(1);
    expect(JSON.parse(status.stdout)).toMatchObject({
      source: 'DATABASE_URL',
      url: 'postgres://lw:***@127.0.0.1:1/factory',
      reachable: false,
    });
    expect(status.stdout + status.stderr).not.toContain('s3cret');
    expect(await runCli(t, ['db', 'url'], { env })).toEqual({
      code: 0,
      stdout: `${url}\n`,
      stderr: '',
    });
  });

  it('start and stop have nothing to do', async () => {
    const start = await runCli(t, ['db', 'start']);
    expect(start.code).toBe(0);
    expect(start.stdout).toMatch(
      /^nothing to start: loopwright uses the external database from LOOPWRIGHT_DATABASE_URL/,
    );
    const stop = await runCli(t, ['db', 'stop', '--json']);
    expect(JSON.parse(stop.stdout)).toMatchObject({
      source: 'LOOPWRIGHT_DATABASE_URL',
      action: 'none',
    });
  });

  it('refuses an unknown subcommand', async () => {
    expectBadInput(
      await runCli(t, ['db', 'restart']),
      'unknown db subcommand: restart (expected one of: start, stop, status, url, destroy)',
    );
  });
});

describe('loopwright db with the embedded server', () => {
  it('reports an uninitialised home without starting anything', async () => {
    const home = tempDir('lw-home-');
    const env = embeddedEnv(home);
    const status = await runCli(t, ['db', 'status'], { env });
    expect(status).toEqual({
      code: 1,
      stdout: `embedded Postgres under ${home} is not initialised (loopwright db start)\n`,
      stderr: '',
    });
    expect(await runCli(t, ['db', 'url'], { env })).toEqual({
      code: 1,
      stdout: '',
      stderr:
        `loopwright: the embedded database under ${home} is not initialised (run: ` +
        `loopwright db start)\n`,
    });
    expect(await runCli(t, ['db', 'stop'], { env })).toEqual({
      code: 0,
      stdout: `embedded Postgres under ${home} was not running\n`,
      stderr: '',
    });
    expect(readdirSync(home).filter((f) => f !== 'db')).toEqual([]);
  });

  it('starts, migrates, answers psql and stops a real embedded server', async () => {
    const home = tempDir('lw-home-');
    const env = embeddedEnv(home);
    try {
      const start = await runCli(t, ['db', 'start', '--json'], { env });
      expect(start.stderr).toBe('');
      expect(JSON.parse(start.stdout)).toMatchObject({
        source: 'embedded',
        running: true,
        started: true,
        url: expect.stringContaining(':***@'),
      });
      expect((await runCli(t, ['db', 'status'], { env })).stdout).toMatch(
        /^running: +yes \(pid \d+, port \d+\)$/m,
      );
      const url = (await runCli(t, ['db', 'url'], { env })).stdout.trim();
      expect(new URL(url).password).not.toBe('');
      expect(
        (await runCli(t, ['psql', '-c', 'select count(*) from v_board', '--', '-A', '-t'], { env }))
          .stdout,
      ).toBe('0\n');
      expect(await runCli(t, ['db', 'stop'], { env })).toEqual({
        code: 0,
        stdout: `stopped embedded Postgres under ${home}\n`,
        stderr: '',
      });
      expect((await runCli(t, ['db', 'status'], { env })).code).toBe(1);
    } finally {
      await runCli(t, ['db', 'stop'], { env });
      removeCluster(home);
    }
  }, 180_000);
});

/** The cluster may live outside the home (as root, under /var/lib/loopwright): remove it too. */
function removeCluster(home: string): void {
  try {
    const { dataDir } = JSON.parse(readFileSync(path.join(home, 'db', 'server.json'), 'utf8')) as {
      dataDir: string;
    };
    if (dataDir.startsWith(home)) return;
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
    rmSync(`${path.dirname(dataDir)}.json`, { force: true }); // its record (cluster-record.ts)
  } catch {
    // never initialised
  }
}

describe('loopwright migrate', () => {
  it('reports an up-to-date database', async () => {
    const files = readdirSync('migrations').filter((f) => /^\d{4}_.*\.sql$/.test(f));
    expect(await runCli(t, ['migrate'])).toEqual({
      code: 0,
      stdout: `up to date: ${files.length} migrations already applied\n`,
      stderr: '',
    });
  });

  it('applies every migration to an empty database and names each one', async () => {
    const files = readdirSync('migrations')
      .filter((f) => /^\d{4}_.*\.sql$/.test(f))
      .sort();
    const adminUrl = inject('adminUrl');
    const name = `lw_test_empty_${process.pid}`;
    await runStatement(adminUrl, `create database ${name}`);
    try {
      const env = { LOOPWRIGHT_DATABASE_URL: withDatabase(adminUrl, name), PATH: process.env.PATH };
      const result = await runCli(t, ['migrate', '--json'], { env });
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        applied: files,
        alreadyApplied: 0,
        source: 'LOOPWRIGHT_DATABASE_URL',
      });
      expect((await runCli(t, ['migrate'], { env })).stdout).toBe(
        `up to date: ${files.length} migrations already applied\n`,
      );
    } finally {
      await runStatement(adminUrl, `drop database if exists ${name} with (force)`);
    }
  });
});
