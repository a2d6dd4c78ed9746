/**
 * What defines "done" for a batch, as sha256 digests: each repository's gate settings (test, live
 * and check commands, base branch), the validator's charter and the report contract it enforces,
 * the oracle's own code and the ticket machine's version. Pinned when the batch starts; any change
 * afterwards is VERIFIER_CHANGED.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MACHINE_VERSION } from '../../machines/ticket.js';
import { packageRoot } from '../config/package-root.js';
import { skillsDir } from '../config/skills.js';
import type { Kdb } from '../db/connection.js';

/** Bumped when the oracle's rules change; its source files are hashed too. */
export const ORACLE_VERSION = 'oracle/1';

export type Pins = Readonly<Record<string, string>>;

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** The current digests for a batch (repositories are those its tickets belong to). */
export async function computePins(
  db: Kdb,
  batchId: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Pins> {
  const repos = await db
    .selectFrom('loopwright.repositories as r')
    .select(['r.name', 'r.test_cmd', 'r.live_cmd', 'r.check_cmds', 'r.base_branch'])
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('loopwright.tickets as t')
          .select('t.id')
          .whereRef('t.repo_id', '=', 'r.id')
          .where('t.batch_id', '=', batchId),
      ),
    )
    .orderBy('r.name')
    .execute();
  const pins: Record<string, string> = {};
  for (const r of repos)
    pins[`gates:${r.name}`] = sha(
      JSON.stringify([r.test_cmd, r.live_cmd, r.check_cmds, r.base_branch]),
    );
  const skills = skillsDir(env);
  const charter = await Promise.all(
    ['validator/SKILL.md', 'shared/report-contract.md'].map((f) =>
      readFile(path.join(skills, f), 'utf8').catch(() => `(missing ${f})`),
    ),
  );
  pins['charter:validator'] = sha(charter.join('\0'));
  pins.oracle = await oracleCodeDigest();
  pins.machine = sha(MACHINE_VERSION);
  return pins;
}

/** Keys whose digest differs (or appeared / disappeared) between two pin sets. */
export function changedPins(pinned: Pins, current: Pins): string[] {
  const keys = new Set([...Object.keys(pinned), ...Object.keys(current)]);
  return [...keys].filter((k) => pinned[k] !== current[k]).sort();
}

/**
 * The oracle's code, as one digest: the TypeScript sources in `src/oracle/` under the package
 * root (shipped with the package), whether this process runs from src/ (tsx, vitest) or from the
 * compiled dist/ — so every process on a database pins the same value. Only a package without
 * the sources falls back to the compiled files beside this module.
 *
 * @example
 * ```ts
 * const digest = await oracleCodeDigest(); // same from `tsx src/...` and `node dist/...`
 * ```
 */
export async function oracleCodeDigest(root: string = packageRoot()): Promise<string> {
  const sources = path.join(root, 'src', 'oracle');
  const texts = await readModules(sources, /\.ts$/).catch(() =>
    readModules(path.dirname(fileURLToPath(import.meta.url)), /\.(ts|js)$/),
  );
  return sha(`${ORACLE_VERSION}\0${texts}`);
}

async function readModules(dir: string, pattern: RegExp): Promise<string> {
  const files = (await readdir(dir))
    .filter((f) => pattern.test(f) && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .sort();
  if (files.length === 0) throw new Error(`no oracle modules in ${dir}`);
  const texts = await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')));
  return files.map((f, i) => `${f}\0${texts[i]}`).join('\0');
}
