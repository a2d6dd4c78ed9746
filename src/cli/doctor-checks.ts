/**
 * What `loopwright doctor` checks, each a small function returning one {@link DoctorCheck}: git
 * (merge-tree --write-tree needs 2.38), the sandbox (bubblewrap), Postgres reachability and
 * authentication, every repository's agents (binary, version, credentials — preflight), disk
 * space under LOOPWRIGHT_HOME, and psql (optional). A `fail` is a blocker.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, statfsSync } from 'node:fs';
import { preflightAgents } from '../agents/preflight.js';
import { detectSandbox } from '../agents/sandbox/index.js';
import { compareVersions, resolveProgram } from '../agents/preflight.js';
import { type RepoSettings, repoSettingsSchema } from '../config/repo-settings.js';
import type { Repository } from '../db/repositories.js';

export interface DoctorCheck {
  readonly name: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
  /** What to do, when not ok. */
  readonly fix?: string;
}

const MIN_GIT = '2.38.0';

export function gitCheck(env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['--version'],
      { env: { PATH: env.PATH ?? '' }, timeout: 10_000 },
      (error, stdout) => {
        const version = /(\d+\.\d+\.\d+)/.exec(String(stdout))?.[1];
        if (error || !version)
          return resolve({
            name: 'git',
            status: 'fail',
            detail: 'git is not installed',
            fix: 'install git 2.38 or newer',
          });
        if (compareVersions(version, MIN_GIT) < 0)
          return resolve({
            name: 'git',
            status: 'fail',
            detail: `git ${version} is older than ${MIN_GIT} (merge-tree --write-tree)`,
            fix: 'install git 2.38 or newer',
          });
        resolve({ name: 'git', status: 'ok', detail: `git ${version}` });
      },
    );
  });
}

/** A blocker only when some repository runs sandboxed (the default). */
export async function sandboxCheck(repos: readonly Repository[]): Promise<DoctorCheck> {
  const status = await detectSandbox();
  const needing = repos.filter((r) => settingsOf(r)?.sandbox !== 'none').map((r) => r.name);
  if (status.available) return { name: 'sandbox', status: 'ok', detail: 'bubblewrap works' };
  return {
    name: 'sandbox',
    status: needing.length > 0 ? 'fail' : 'warn',
    detail: `${status.reason}${needing.length ? ` (needed by ${needing.join(', ')})` : ''}`,
    ...(status.fix ? { fix: status.fix } : {}),
  };
}

export function diskCheck(home: string): DoctorCheck {
  try {
    mkdirSync(home, { recursive: true });
    const s = statfsSync(home);
    const free = s.bavail * s.bsize;
    const gib = (free / 2 ** 30).toFixed(1);
    if (free < 200 * 2 ** 20)
      return {
        name: 'disk',
        status: 'fail',
        detail: `${gib} GiB free under ${home}`,
        fix: 'free disk space (worktrees, transcripts and the database live there)',
      };
    if (free < 2 * 2 ** 30)
      return {
        name: 'disk',
        status: 'warn',
        detail: `${gib} GiB free under ${home}`,
        fix: 'free some disk space',
      };
    return { name: 'disk', status: 'ok', detail: `${gib} GiB free under ${home}` };
  } catch (error) {
    return {
      name: 'disk',
      status: 'fail',
      detail: `cannot use ${home}: ${(error as Error).message}`,
      fix: 'set LOOPWRIGHT_HOME to a writable directory',
    };
  }
}

export function psqlCheck(env: NodeJS.ProcessEnv): DoctorCheck {
  const found = resolveProgram('psql', env);
  return found
    ? { name: 'psql', status: 'ok', detail: found }
    : {
        name: 'psql',
        status: 'ok',
        detail: 'not installed (optional: loopwright sql needs no client)',
      };
}

/** Each repository's agents, or the defaults when none is registered. */
export async function agentChecks(
  repos: readonly Repository[],
  env: NodeJS.ProcessEnv,
): Promise<DoctorCheck[]> {
  const targets: [string, RepoSettings][] = repos.length
    ? repos.flatMap((r) => {
        const s = settingsOf(r);
        return s ? [[r.name, s] as [string, RepoSettings]] : [];
      })
    : [['defaults', repoSettingsSchema.parse({})]];
  const checks: DoctorCheck[] = [];
  for (const [name, settings] of targets) {
    const problems = await preflightAgents(settings, { env });
    checks.push(
      problems.length === 0
        ? {
            name: `agents ${name}`,
            status: 'ok',
            detail: 'every role can start and has credentials',
          }
        : {
            name: `agents ${name}`,
            status: 'fail',
            detail: problems.map((p) => p.message).join('; '),
          },
    );
  }
  for (const r of repos)
    if (!settingsOf(r))
      checks.push({
        name: `agents ${r.name}`,
        status: 'fail',
        detail: 'invalid settings',
        fix: `loopwright repo set ${r.name} ...`,
      });
  return checks;
}

function settingsOf(repo: Repository): RepoSettings | null {
  const parsed = repoSettingsSchema.safeParse(repo.settings ?? {});
  return parsed.success ? parsed.data : null;
}
