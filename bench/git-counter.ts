/**
 * Counting git processes: a `git` first on PATH that appends one line per invocation to a log and
 * execs the real git. It counts every git process of a run (the orchestrator's, and any a gate or
 * agent starts), and it is installed for loopwright's timed run and the bash loop alike, so both
 * pay its cost (~1 ms per spawn) and both are counted.
 *
 * @example
 * ```ts
 * const counter = await installGitCounter(home);
 * const before = await counter.count();
 * // ... run something ...
 * const spawns = (await counter.lines()).slice(before.length);
 * counter.uninstall();
 * ```
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface GitCounter {
  /** Every logged spawn so far: `<subcommand> <call site>` (site with LOOPWRIGHT_GIT_TRACE=1). */
  lines(): Promise<string[]>;
  /** Put PATH back as it was. */
  uninstall(): void;
}

export async function installGitCounter(home: string): Promise<GitCounter> {
  const bin = path.join(home, 'git-counter');
  const log = path.join(home, 'git-spawns.log');
  const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  await mkdir(bin, { recursive: true });
  await writeFile(
    path.join(bin, 'git'),
    `#!/bin/sh
# the subcommand: the first argument that is neither an option nor the value of -c / -C
sub=
skip=
for a in "$@"; do
  if [ -n "$skip" ]; then skip=; continue; fi
  case "$a" in -c|-C) skip=1 ;; -*) ;; *) sub=$a; break ;; esac
done
echo "$sub $LOOPWRIGHT_GIT_SITE" >> ${JSON.stringify(log)}
exec ${JSON.stringify(real)} "$@"
`,
    { mode: 0o755 },
  );
  const originalPath = process.env.PATH ?? '';
  process.env.PATH = `${bin}:${originalPath}`;
  return {
    lines: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean),
    uninstall: () => {
      process.env.PATH = originalPath;
    },
  };
}

/** Run `fn` with a counter installed in a temporary directory; PATH and the directory restored. */
export async function withGitCounter<T>(fn: (counter: GitCounter) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lw-git-counter-'));
  const counter = await installGitCounter(dir);
  try {
    return await fn(counter);
  } finally {
    counter.uninstall();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Log lines (`<subcommand> <site>`) -> spawns per ticket by subcommand, most first. */
export function bySubcommand(lines: readonly string[], tickets: number): Record<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const sub = line.split(' ')[0] || '(none)';
    counts.set(sub, (counts.get(sub) ?? 0) + 1);
  }
  return Object.fromEntries(
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .map(([sub, n]) => [sub, Math.round((n / tickets) * 100) / 100]),
  );
}
