/**
 * `loopwright repo add | list`: register the git repositories tickets are filed against.
 */
import path from 'node:path';
import {
  getRepositoryByName,
  insertRepository,
  listRepositories,
  type Repository,
} from '../../db/repositories.js';
import { BadInputError, NotFoundError } from '../../errors.js';
import { expectPositionals, nonBlank, parseCommandArgs, parseInteger } from '../args.js';
import type { CliContext, CliIo, Command } from '../command.js';
import { branchExists, currentBranch, gitTopLevel } from '../../workspace/git.js';
import { printJson, printLine, printTable } from '../output.js';
import type { RepoSettings } from '../../config/repo-settings.js';
import { sameVendorWarning, settingsFromFlags } from '../repo-settings-flags.js';
import { dispatchSubcommand } from '../subcommands.js';

/** What the database accepts as a repository name (migrations/0001_core.sql). */
export const REPO_NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const MODES = ['copilot', 'dark'] as const;

const ADD_OPTIONS = {
  name: { type: 'string' },
  base: { type: 'string' },
  'test-cmd': { type: 'string' },
  'live-cmd': { type: 'string' },
  'check-cmd': { type: 'string', multiple: true },
  concurrency: { type: 'string' },
  mode: { type: 'string' },
  agent: { type: 'string', multiple: true },
  script: { type: 'string' },
  limit: { type: 'string', multiple: true },
  sandbox: { type: 'string' },
} as const;

interface NewRepoInput {
  readonly name: string;
  readonly path: string;
  readonly base_branch: string;
  readonly test_cmd: string | null;
  readonly live_cmd: string | null;
  readonly check_cmds: string[];
  readonly concurrency: number | undefined;
  readonly mode: 'copilot' | 'dark' | undefined;
  readonly settings: RepoSettings;
}

async function addRepo(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, ADD_OPTIONS);
  const [dir] = expectPositionals(positionals, ['<path>']);
  const input = await resolveNewRepo(path.resolve(ctx.io.cwd, dir!), values, ctx.io);
  const db = await ctx.db();
  const existing = await getRepositoryByName(db, input.name).catch((error: unknown) => {
    if (error instanceof NotFoundError) return null;
    throw error;
  });
  if (existing)
    throw new BadInputError(
      `repo already exists: ${input.name} (${existing.path}); choose another --name`,
    );
  const warning = sameVendorWarning(input.settings);
  if (warning) ctx.io.stderr(`loopwright: ${warning}\n`);
  const repo = await insertRepository(db, {
    ...input,
    settings: JSON.stringify(input.settings),
    ...(input.concurrency === undefined ? {} : { concurrency: input.concurrency }),
    ...(input.mode === undefined ? {} : { mode: input.mode }),
  });
  if (values.json) printJson(ctx.io, repoJson(repo));
  else {
    printLine(
      ctx.io,
      `added repo ${repo.name}: ${repo.path} (base ${repo.base_branch}, ${repo.mode}, concurrency ${repo.concurrency})`,
    );
    printLine(ctx.io, checkoutNote(repo.path, repo.base_branch));
  }
  return 0;
}

/** The one line `repo add` prints about what merges do to the user's own checkout. */
export function checkoutNote(repoPath: string, base: string): string {
  return `note: where ${base} is checked out (e.g. ${repoPath}), a clean checkout follows each tested merge; with uncommitted changes the merge waits (status says so) until you commit or stash`;
}

/** Validate every flag and ask git about the path; nothing is written here. */
async function resolveNewRepo(
  dir: string,
  values: ReturnType<typeof parseCommandArgs<typeof ADD_OPTIONS>>['values'],
  io: CliIo,
): Promise<NewRepoInput> {
  const env = io.env;
  const mode = values.mode;
  if (mode !== undefined && !(MODES as readonly string[]).includes(mode))
    throw new BadInputError(`--mode must be copilot or dark, got "${mode}"`);
  const concurrency = parseInteger('--concurrency', values.concurrency, { min: 1, max: 64 });
  if (values.name !== undefined && !REPO_NAME.test(values.name)) {
    throw new BadInputError(
      `invalid repo name "${values.name}": use 1-40 lowercase letters, digits, _ or -, starting with a letter or digit`,
    );
  }
  const checkCmds = (values['check-cmd'] ?? []).map((c) => nonBlank('--check-cmd', c)!);
  const settings = settingsFromFlags(
    { agent: values.agent, script: values.script, limit: values.limit, sandbox: values.sandbox },
    io.cwd,
  );
  const top = await gitTopLevel(dir, env);
  const name = values.name ?? defaultRepoName(top);
  if (!name) throw new BadInputError(`cannot derive a repo name from ${top}; pass --name`);
  const base = nonBlank('--base', values.base) ?? (await currentBranch(top, env));
  if (!base) throw new BadInputError(`HEAD of ${top} is detached; pass --base <branch>`);
  if (!(await branchExists(top, base, env)))
    throw new BadInputError(`branch ${base} does not exist in ${top} (no commits yet?)`);
  return {
    name,
    path: top,
    base_branch: base,
    test_cmd: nonBlank('--test-cmd', values['test-cmd']) ?? null,
    live_cmd: nonBlank('--live-cmd', values['live-cmd']) ?? null,
    check_cmds: checkCmds,
    concurrency,
    mode: mode as NewRepoInput['mode'],
    settings,
  };
}

/**
 * The directory's basename made into a valid repo name, or null if nothing usable is left.
 *
 * @example
 * ```ts
 * defaultRepoName('/src/My Web.App'); // 'my-web-app'
 * ```
 */
export function defaultRepoName(dir: string): string | null {
  const name = path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 40)
    .replace(/[-_]+$/, '');
  return REPO_NAME.test(name) ? name : null;
}

async function listRepos(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {});
  expectPositionals(positionals, []);
  const repos = await listRepositories(await ctx.db());
  if (values.json) printJson(ctx.io, { repos: repos.map(repoJson) });
  else printRepos(ctx.io, repos);
  return 0;
}

function printRepos(io: CliIo, repos: readonly Repository[]): void {
  printTable(
    io,
    repos,
    [
      { header: 'NAME', value: (r) => r.name },
      { header: 'BASE', value: (r) => r.base_branch },
      { header: 'MODE', value: (r) => r.mode },
      { header: 'SLOTS', value: (r) => r.concurrency, right: true },
      { header: 'TEST', value: (r) => r.test_cmd },
      { header: 'PATH', value: (r) => r.path },
    ],
    '(no repositories: loopwright repo add <path>)',
  );
}

/** A repository as `--json` prints it. */
export function repoJson(repo: Repository) {
  return {
    name: repo.name,
    path: repo.path,
    base_branch: repo.base_branch,
    test_cmd: repo.test_cmd,
    live_cmd: repo.live_cmd,
    check_cmds: repo.check_cmds,
    concurrency: repo.concurrency,
    mode: repo.mode,
    settings: repo.settings,
    created_at: repo.created_at,
  };
}

export const command: Command = {
  name: 'repo',
  summary: 'register and list git repositories',
  usage: `usage:
  loopwright repo add <path> [--name N] [--base BRANCH] [--test-cmd CMD] [--live-cmd CMD]
                     [--check-cmd CMD]... [--concurrency N] [--mode copilot|dark]
                     [--agent ROLE=PROVIDER[:MODEL]]... [--script FILE] [--limit KEY=VALUE]...
                     [--sandbox bwrap|none] [--json]
  loopwright repo list [--json]

repo add registers the git work tree containing <path> (its top level is stored).
  --name         defaults to the directory name, lowercased ([a-z0-9_-], at most 40)
  --base         branch tickets merge into; defaults to the current branch
  --test-cmd     the repository's test command (the RED and VALIDATE gates run it)
  --live-cmd     command that verifies behaviour after a merge
  --check-cmd    extra check, repeatable
  --concurrency  tickets worked at once in this repository (1-64, default 2)
  --mode         dark merges by itself; copilot waits for an operator's approve (default dark)
  --agent        role=provider[:model], repeatable; roles lead|generator|validator, providers
                 claude|codex|scripted (default: lead and generator claude, validator codex —
                 a warning is printed when validator and generator share a vendor)
  --script       the script scripted agents follow (see src/agents/scripted/script.ts)
  --limit        key=value ticket budget, repeatable: maxAttempts, maxPlanRounds, maxRedAttempts,
                 maxContractRetries, maxCostUsd, wallClockSeconds (value none = unlimited)
  --sandbox      bwrap (default): agents and gate commands run under bubblewrap, as an
                 unprivileged user when loopwright runs as root; none: plain processes`,
  run: (args, ctx) => dispatchSubcommand('repo', args, ctx, { add: addRepo, list: listRepos }),
};
