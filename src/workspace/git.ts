/**
 * The one way loopwright runs git, for the whole codebase: an argument array (never a shell), a
 * fixed identity for the commits it makes, and a hardened invocation so that nothing an agent can
 * write (a workspace's `.git/config`, hooks, `.gitattributes`, `info/`, a `.git` file) makes git
 * run
 * a program or look at another repository:
 *
 * - no system or global config (`GIT_CONFIG_NOSYSTEM=1`, `GIT_CONFIG_GLOBAL=/dev/null`);
 * - a scrubbed environment: only {@link GIT_ENV_ALLOWLIST} of the caller's variables, never a
 *   credential, never a caller's `GIT_*` (a `GIT_DIR` inside a hook cannot redirect an operation);
 * - `-c` overrides (highest precedence) for every config key that names a program or a path git
 *   would run or read: hooks, fsmonitor, pager, editor, askpass, ssh, external diff, credential
 *   helpers, attribute file, gpg; and network transports off (`protocol.allow=never`, only `file`);
 * - `--no-ext-diff --no-textconv` added to `diff`, `log` and `show`;
 * - with {@link RunGitOptions.gitDir} the repository is named explicitly (`GIT_DIR`,
 * `GIT_WORK_TREE`),
 *   so it is never discovered from an agent-writable directory.
 *
 * Filter drivers (`filter.<name>.clean`) cannot be switched off by name; they are only ever defined
 * in a repository's own config, which for a workspace is checked before use
 * (workspace-integrity.ts)
 * and which the orchestrator's commits bypass altogether (their objects are written in-process,
 * object-writer.ts).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { BadInputError, LoopwrightError } from '../errors.js';

/** Author and committer of every commit loopwright makes itself. */
export const LOOPWRIGHT_IDENTITY = { name: 'loopwright', email: 'loopwright@localhost' } as const;

/** The caller's environment variables git may see; everything else is dropped. */
export const GIT_ENV_ALLOWLIST: readonly string[] = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];

/**
 * Config applied to every invocation, as `-c` pairs (these beat every config file). Each entry
 * either stops git running a program named by config, or keeps a repository's state from
 * changing what a mechanical orchestrator operation does.
 */
export const HARDENED_CONFIG: readonly string[] = [
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'core.untrackedCache=false',
  'core.pager=cat',
  'core.editor=false',
  'core.askPass=',
  'core.sshCommand=false',
  'core.gitProxy=',
  'core.attributesFile=/dev/null',
  'core.excludesFile=/dev/null',
  'core.quotepath=false',
  'credential.helper=',
  'diff.external=',
  'safe.directory=*',
  'protocol.allow=never',
  'protocol.file.allow=always',
  'submodule.recurse=false',
  'fetch.recurseSubmodules=false',
  'transfer.fsckObjects=true',
  'commit.gpgsign=false',
  'tag.gpgsign=false',
  'gpg.program=false',
  'gc.auto=0',
  'maintenance.auto=false',
  'advice.detachedHead=false',
];

const HARDENED_ARGS: readonly string[] = HARDENED_CONFIG.flatMap((pair) => ['-c', pair]);

/** Subcommands that could run an external diff or textconv program. */
const DIFF_LIKE = new Set(['diff', 'log', 'show']);

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

/** git is not installed (not on PATH). */
export class GitMissingError extends LoopwrightError {
  constructor(options?: { cause?: unknown }) {
    super('GIT_MISSING', 'git not found on PATH; install git', options);
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
  /**
   * Exit codes that are answers rather than failures (e.g. `[0, 1]` for `diff --quiet`). Default
   * `[0]`.
   */
  readonly okExitCodes?: readonly number[];
  /** Extra environment variables set by loopwright itself (e.g. `GIT_INDEX_FILE`). */
  readonly env?: Readonly<Record<string, string>>;
  /** The repository's git dir, named explicitly (no discovery from `cwd`). */
  readonly gitDir?: string;
  /** The work tree for `gitDir` (omitted: none, a bare view). */
  readonly workTree?: string;
  /** Bytes written to git's stdin. */
  readonly input?: string | Uint8Array;
  /** Caller's environment to take {@link GIT_ENV_ALLOWLIST} from (default `process.env`). */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /** Kill git after this long (default: no limit). */
  readonly timeoutMs?: number;
}

/**
 * Run `git <args>` in `cwd` and return its output; throws {@link GitError} for any exit code not
 * listed in `okExitCodes`, {@link GitMissingError} when git is not installed.
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
  return execGit(cwd, args, options, 'utf8');
}

/** The full argument list: hardening first, then the caller's, with diff programs off. */
export function hardenedArgs(args: readonly string[]): string[] {
  const [sub, ...rest] = args;
  const tail = sub && DIFF_LIKE.has(sub) ? [sub, '--no-ext-diff', '--no-textconv', ...rest] : args;
  return [...HARDENED_ARGS, ...tail];
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
export async function resolveCommit(
  cwd: string,
  rev: string,
  options: Pick<RunGitOptions, 'gitDir'> = {},
): Promise<string | null> {
  const { stdout, exitCode } = await runGit(
    cwd,
    ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`],
    { okExitCodes: [0, 1, 128], ...options },
  );
  return exitCode === 0 ? stdout.trim() : null;
}

/** The environment of every git process: the allow-list, then loopwright's fixed settings. */
function gitEnv(options: RunGitOptions): Record<string, string> {
  const base = options.baseEnv ?? process.env;
  const env: Record<string, string> = {};
  for (const key of GIT_ENV_ALLOWLIST) {
    const value = base[key];
    if (value !== undefined) env[key] = value;
  }
  return {
    ...env,
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_OPTIONAL_LOCKS: '0',
    GIT_NO_REPLACE_OBJECTS: '1',
    GIT_AUTHOR_NAME: LOOPWRIGHT_IDENTITY.name,
    GIT_AUTHOR_EMAIL: LOOPWRIGHT_IDENTITY.email,
    GIT_COMMITTER_NAME: LOOPWRIGHT_IDENTITY.name,
    GIT_COMMITTER_EMAIL: LOOPWRIGHT_IDENTITY.email,
    ...(options.gitDir ? { GIT_DIR: options.gitDir } : {}),
    ...(options.workTree ? { GIT_WORK_TREE: options.workTree } : {}),
    ...options.env,
  };
}

/** The absolute top-level directory of the work tree containing `dir` (a registered repository). */
export async function gitTopLevel(dir: string, baseEnv?: NodeJS.ProcessEnv): Promise<string> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new BadInputError(`no such directory: ${dir}`);
  const result = await runGit(dir, ['rev-parse', '--show-toplevel'], {
    okExitCodes: [0, 128],
    ...(baseEnv ? { baseEnv } : {}),
  });
  const top = result.stdout.trim();
  if (result.exitCode !== 0 || !top) {
    const why = result.stderr
      .trim()
      .split('\n')[0]
      ?.replace(/^fatal:\s*/, '');
    throw new BadInputError(`not a git repository: ${dir}${why ? ` (${why})` : ''}`);
  }
  return top;
}

/** The branch HEAD points at (`symbolic-ref --short HEAD`), or null when HEAD is detached. */
export async function currentBranch(
  top: string,
  baseEnv?: NodeJS.ProcessEnv,
): Promise<string | null> {
  const result = await runGit(top, ['symbolic-ref', '--quiet', '--short', 'HEAD'], {
    okExitCodes: [0, 1, 128],
    ...(baseEnv ? { baseEnv } : {}),
  });
  const branch = result.stdout.trim();
  return result.exitCode === 0 && branch ? branch : null;
}

/** True when `refs/heads/<branch>` exists and points at a commit. */
export async function branchExists(
  top: string,
  branch: string,
  baseEnv?: NodeJS.ProcessEnv,
): Promise<boolean> {
  const result = await runGit(
    top,
    ['rev-parse', '--verify', '--quiet', '--end-of-options', `refs/heads/${branch}^{commit}`],
    { okExitCodes: [0, 1, 128], ...(baseEnv ? { baseEnv } : {}) },
  );
  return result.exitCode === 0;
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
  return (await execGit(cwd, args, options, 'buffer')).stdout;
}

/**
 * Start a long-lived hardened git (same arguments, environment and git dir rules as
 * {@link runGit}) with all three streams piped, for a process that answers many requests, e.g.
 * `cat-file --batch-command` (object-store.ts). The caller owns its lifetime.
 *
 * @example
 * ```ts
 * const child = startGit(gitDir, ['cat-file', '--batch-command'], { gitDir });
 * ```
 */
export function startGit(
  cwd: string,
  args: readonly string[],
  options: Pick<RunGitOptions, 'env' | 'gitDir' | 'baseEnv'> = {},
): ChildProcessWithoutNullStreams {
  const env = process.env.LOOPWRIGHT_GIT_TRACE
    ? { ...gitEnv(options), LOOPWRIGHT_GIT_SITE: traceSite() }
    : gitEnv(options);
  return spawn('git', hardenedArgs(args), { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** One hardened git process; throws for a missing git or an exit code not in `okExitCodes`. */
async function execGit<E extends 'utf8' | 'buffer'>(
  cwd: string,
  args: readonly string[],
  options: RunGitBytesOptions,
  encoding: E,
): Promise<{ stdout: E extends 'utf8' ? string : Buffer; stderr: string; exitCode: number }> {
  const okExitCodes = options.okExitCodes ?? [0];
  const env = process.env.LOOPWRIGHT_GIT_TRACE
    ? { ...gitEnv(options), LOOPWRIGHT_GIT_SITE: traceSite() }
    : gitEnv(options);
  const done = await spawnGit(cwd, hardenedArgs(args), env, options);
  const stderr = done.stderr.toString('utf8');
  if (done.error?.code === 'ENOENT') throw new GitMissingError({ cause: done.error });
  if (done.exitCode === undefined || !okExitCodes.includes(done.exitCode)) {
    const why = done.error?.message ?? (done.signal ? `killed by ${done.signal}` : '');
    throw new GitError(args, cwd, done.exitCode, stderr || why, { cause: done.error });
  }
  const stdout = encoding === 'utf8' ? done.stdout.toString('utf8') : done.stdout;
  return { stdout: stdout as E extends 'utf8' ? string : Buffer, stderr, exitCode: done.exitCode };
}

interface GitExit {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** Undefined when git could not be started or was killed by a signal. */
  readonly exitCode: number | undefined;
  readonly signal: NodeJS.Signals | null;
  readonly error: NodeJS.ErrnoException | undefined;
}

/**
 * Node's own spawn, not execa: a git call is the commonest subprocess of a ticket, and execa's
 * per-call set-up costs several times what a short git command takes.
 */
function spawnGit(
  cwd: string,
  argv: readonly string[],
  env: Record<string, string>,
  options: RunGitBytesOptions,
): Promise<GitExit> {
  return new Promise((resolve) => {
    const child = spawn('git', argv, {
      cwd,
      env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let error: NodeJS.ErrnoException | undefined;
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (e) => {
      error ??= e;
    });
    const timer = options.timeoutMs
      ? setTimeout(() => {
          error ??= Object.assign(new Error(`timed out after ${options.timeoutMs} ms`), {
            code: 'ETIMEDOUT',
          });
          child.kill('SIGKILL');
        }, options.timeoutMs)
      : undefined;
    if (child.stdin) {
      child.stdin.on('error', () => {}); // git exited before reading all of it: its exit says why
      child.stdin.end(options.input);
    }
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err),
        exitCode: code === null || error ? undefined : code,
        signal,
        error,
      });
    });
  });
}

/**
 * With `LOOPWRIGHT_GIT_TRACE=1` every git process gets `LOOPWRIGHT_GIT_SITE`, its caller's
 * `src/` frames: the lifecycle bench's git counter groups spawns by call site with it.
 */
function traceSite(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(3);
  return lines
    .filter((l) => l.includes('/src/') && !l.includes('/workspace/git.'))
    .slice(0, 4)
    .map((l) => /\/src\/(.*?):(\d+)/.exec(l)?.slice(1).join(':') ?? '?')
    .join('<');
}
