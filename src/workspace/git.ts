/**
 * The one way loopwright runs git: an argument array (never a shell), a fixed identity for the
 * commits it makes, no prompts, no hooks, no background gc, and a clean `GIT_*` environment so a
 * caller's `GIT_DIR` (say, inside a hook) can never redirect an operation to another repository.
 */
import { execa } from 'execa';
import { LoopwrightError } from '../errors.js';

/** Author and committer of every commit loopwright makes itself. */
export const LOOPWRIGHT_IDENTITY = { name: 'loopwright', email: 'loopwright@localhost' } as const;

/**
 * Config applied to every invocation. Hooks and fsmonitor are off because orchestrator operations
 * are mechanical and must not run repository code; gc is off so no detached `git gc` outlives the call.
 */
const BASE_CONFIG = [
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'core.fsmonitor=false',
  '-c',
  'commit.gpgsign=false',
  '-c',
  'tag.gpgsign=false',
  '-c',
  'gc.auto=0',
  '-c',
  'maintenance.auto=false',
  '-c',
  'core.quotepath=false',
  '-c',
  'advice.detachedHead=false',
] as const;

/** git exited with a status the caller did not expect (or could not be started). */
export class GitError extends LoopwrightError {
  constructor(
    readonly args: readonly string[],
    readonly cwd: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    const status = exitCode === undefined ? 'could not run' : `exit ${exitCode}`;
    const detail = stderr.trim().split('\n').slice(-3).join(' | ');
    super(
      'GIT',
      `git ${args.join(' ')} (in ${cwd}): ${status}${detail ? `: ${detail}` : ''}`,
      options,
    );
  }
}

/** What a git invocation printed and how it exited. */
export interface GitResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** Options for {@link runGit}. */
export interface RunGitOptions {
  /** Exit codes that are answers rather than failures (e.g. `[0, 1]` for `diff --quiet`). Default `[0]`. */
  readonly okExitCodes?: readonly number[];
  /** Extra environment variables (e.g. `GIT_LFS_SKIP_SMUDGE`). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Run `git <args>` in `cwd` and return its output; throws {@link GitError} for any exit code not
 * listed in `okExitCodes`.
 *
 * @example
 * ```ts
 * const { exitCode } = await runGit(repo, ['diff', '--quiet'], { okExitCodes: [0, 1] });
 * ```
 */
export async function runGit(
  cwd: string,
  args: readonly string[],
  options: RunGitOptions = {},
): Promise<GitResult> {
  const okExitCodes = options.okExitCodes ?? [0];
  const result = await execa('git', [...BASE_CONFIG, ...args], {
    cwd,
    env: gitEnv(options.env),
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
    encoding: 'utf8',
  });
  if (result.exitCode === undefined || !okExitCodes.includes(result.exitCode)) {
    throw new GitError(args, cwd, result.exitCode, result.stderr || (result.message ?? ''), {
      cause: result.cause,
    });
  }
  return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
}

/**
 * Run git and return stdout without its final newline: the convenient form for one-line answers.
 *
 * @example
 * ```ts
 * const head = await git(repo, ['rev-parse', 'HEAD']);
 * ```
 */
export async function git(
  cwd: string,
  args: readonly string[],
  options: RunGitOptions = {},
): Promise<string> {
  const { stdout } = await runGit(cwd, args, options);
  return stdout.replace(/\n$/, '');
}

/** Split `-z` output into its entries (dropping the empty tail). */
export function splitNul(output: string): string[] {
  return output.split('\0').filter((entry) => entry.length > 0);
}

/** The sha a revision names, or null if it names no commit. */
export async function resolveCommit(cwd: string, rev: string): Promise<string | null> {
  const { stdout, exitCode } = await runGit(
    cwd,
    ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`],
    {
      okExitCodes: [0, 1, 128],
    },
  );
  return exitCode === 0 ? stdout.trim() : null;
}

/** The process environment minus every `GIT_*` variable, plus loopwright's fixed settings. */
function gitEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('GIT_')) env[key] = value;
  }
  return {
    ...env,
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: LOOPWRIGHT_IDENTITY.name,
    GIT_AUTHOR_EMAIL: LOOPWRIGHT_IDENTITY.email,
    GIT_COMMITTER_NAME: LOOPWRIGHT_IDENTITY.name,
    GIT_COMMITTER_EMAIL: LOOPWRIGHT_IDENTITY.email,
    ...extra,
  };
}

/** Options for {@link runGitBytes}. */
export interface RunGitBytesOptions extends RunGitOptions {
  /** Bytes written to git's stdin (e.g. object names for `cat-file --batch`). */
  readonly input?: string | Uint8Array;
}

/**
 * Run git with raw stdout bytes (and optional stdin): for object content, which is not text.
 * Same hardened invocation and exit-code rule as {@link runGit}.
 *
 * @example
 * ```ts
 * const bytes = await runGitBytes(repo, ['cat-file', '--batch'], { input: `${sha}\n` });
 * ```
 */
export async function runGitBytes(
  cwd: string,
  args: readonly string[],
  options: RunGitBytesOptions = {},
): Promise<Buffer> {
  const okExitCodes = options.okExitCodes ?? [0];
  const result = await execa('git', [...BASE_CONFIG, ...args], {
    cwd,
    env: gitEnv(options.env),
    extendEnv: false,
    reject: false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    stripFinalNewline: false,
    encoding: 'buffer',
  });
  if (result.exitCode === undefined || !okExitCodes.includes(result.exitCode)) {
    const stderr = Buffer.from(result.stderr ?? '').toString('utf8');
    throw new GitError(args, cwd, result.exitCode, stderr || (result.message ?? ''), {
      cause: result.cause,
    });
  }
  return Buffer.from(result.stdout);
}
