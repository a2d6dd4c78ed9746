import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { PgBinaries } from './binaries.js';
import { EmbeddedPostgresError } from './errors.js';
import { canTraverse } from './fs-access.js';
import type { ServerOsUser } from './os-user.js';
import { SYSTEM_DIR } from './layout.js';

/**
 * Make sure the server OS user can execute the binaries. When loopwright is installed somewhere
 * that user cannot reach (e.g. an `npx` cache under `/root`), copy the `native/` tree once to
 * `/var/lib/loopwright/runtime/<version>-<platform>-<arch>/` and use that copy instead.
 *
 * @example
 * const bins = await ensureBinariesReachable(await resolveBinaries(), postgresUser);
 */
export async function ensureBinariesReachable(
  binaries: PgBinaries,
  user: ServerOsUser | undefined,
): Promise<PgBinaries> {
  if (!user || (await isReachable(binaries.nativeDir, user))) return binaries;
  const name = `${binaries.packageVersion}-${process.platform}-${process.arch}`;
  const staged = path.join(SYSTEM_DIR, 'runtime', name);
  if (!(await fileExists(path.join(staged, 'bin', 'postgres')))) {
    await copyAtomically(binaries.nativeDir, staged);
  }
  if (!(await isReachable(staged, user))) {
    throw new EmbeddedPostgresError(
      'PG_BINARIES_MISSING',
      `OS user "${user.name}" cannot reach the Postgres binaries in ${binaries.nativeDir} ` +
        `nor the copy in ${staged}.`,
    );
  }
  return {
    ...binaries,
    nativeDir: staged,
    initdb: path.join(staged, 'bin', 'initdb'),
    pgCtl: path.join(staged, 'bin', 'pg_ctl'),
    postgres: path.join(staged, 'bin', 'postgres'),
  };
}

async function isReachable(nativeDir: string, user: ServerOsUser): Promise<boolean> {
  for (const sub of ['bin', 'lib', 'share']) {
    if (!(await canTraverse(path.join(nativeDir, sub), user))) return false;
  }
  return true;
}

/** Copy into a private temp dir then rename, so concurrent stagers never see a half copy. */
async function copyAtomically(from: string, to: string): Promise<void> {
  await fs.mkdir(path.dirname(to), { recursive: true, mode: 0o755 });
  const temp = `${to}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await fs.cp(from, temp, { recursive: true, verbatimSymlinks: true });
    await fs.chmod(temp, 0o755);
    await fs.rename(temp, to);
  } catch (cause) {
    await fs.rm(temp, { recursive: true, force: true });
    // Losing the rename race to another process is fine: its copy is complete.
    if (await fileExists(path.join(to, 'bin', 'postgres'))) return;
    throw new EmbeddedPostgresError(
      'PG_BINARIES_MISSING',
      `Could not copy Postgres binaries to ${to}: ${(cause as Error).message}`,
      { cause },
    );
  }
}

async function fileExists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}
