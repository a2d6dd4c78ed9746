/**
 * `loopwright repo add | list | show | set | remove`: register the git repositories tickets are
 * filed against and change everything about them from the command line (flag syntax in
 * ../repo-settings-flags.ts; settings files in ../settings-file.ts).
 */
import path from 'node:path';
import { detectTestCommand } from '../../config/detect-test-command.js';
import {
  findRepositoryClash,
  insertRepository,
  listRepositories,
  type Repository,
} from '../../db/repositories.js';
import { BadInputError } from '../../errors.js';
import { branchExists, currentBranch, gitTopLevel } from '../../workspace/git.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { CliContext, CliIo, Command } from '../command.js';
import { printJson, printLine, printTable } from '../output.js';
import { EDIT_OPTIONS, editRepo, warnAboutAgents } from '../repo-settings-flags.js';
import { repoJson } from '../repo-view.js';
import { dispatchSubcommand } from '../subcommands.js';
import { INTEGRATION_USAGE } from '../../integrations/flags.js';
import { removeRepo, setRepo, showRepo } from './repo-edit.js';

export { repoJson } from '../repo-view.js';

/** What the database accepts as a repository name (migrations/0001_core.sql). */
export const REPO_NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;

const ADD_OPTIONS = { name: { type: 'string' }, ...EDIT_OPTIONS } as const;

async function addRepo(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, ADD_OPTIONS);
  const [dir] = expectPositionals(positionals, ['<path>']);
  if (values.name !== undefined && !REPO_NAME.test(values.name))
    throw new BadInputError(
      `invalid repo name "${values.name}": use 1-40 lowercase letters, digits, _ or -, ` +
        `starting with a letter or digit`,
    );
  const edit = await editRepo({}, values, ctx.io.cwd);
  const top = await gitTopLevel(path.resolve(ctx.io.cwd, dir!), ctx.io.env);
  const name = values.name ?? defaultRepoName(top);
  if (!name) throw new BadInputError(`cannot derive a repo name from ${top}; pass --name`);
  const base = edit.columns.base_branch ?? (await currentBranch(top, ctx.io.env));
  if (!base) throw new BadInputError(`HEAD of ${top} is detached; pass --base <branch>`);
  if (!(await branchExists(top, base, ctx.io.env)))
    throw new BadInputError(`branch ${base} does not exist in ${top} (no commits yet?)`);
  const db = await ctx.db();
  const clash = await findRepositoryClash(db, name, top);
  if (clash?.name === name)
    throw new BadInputError(
      clash.removed_at
        ? `repo name ${name} belongs to a removed repository whose tickets keep it; ` +
            `choose another --name`
        : `repo already exists: ${name} (${clash.path}); choose another --name`,
    );
  if (clash)
    throw new BadInputError(
      `${top} is already registered as repo ${clash.name}; change it with loopwright repo ` +
        `set ${clash.name}`,
    );
  const testCmd = chooseTestCommand(edit.columns.test_cmd, top, ctx.io, values.json === true);
  const warnings = await warnAboutAgents(ctx.io, edit.settings, values.json === true);
  const repo = await insertRepository(db, {
    name,
    path: top,
    base_branch: base,
    test_cmd: testCmd,
    live_cmd: edit.columns.live_cmd ?? null,
    check_cmds: edit.columns.check_cmds ?? [],
    settings: JSON.stringify(edit.settings),
    ...(edit.columns.concurrency === undefined ? {} : { concurrency: edit.columns.concurrency }),
    ...(edit.columns.mode === undefined ? {} : { mode: edit.columns.mode }),
  });
  if (values.json) printJson(ctx.io, { ...repoJson(repo), warnings });
  else {
    printLine(
      ctx.io,
      `added repo ${repo.name}: ${repo.path} (base ${repo.base_branch}, ${repo.mode}, ` +
        `concurrency ${repo.concurrency}, tests: ${repo.test_cmd})`,
    );
    printLine(ctx.io, checkoutNote(repo.path, repo.base_branch));
  }
  return 0;
}

/** The one line `repo add` prints about what merges do to the user's own checkout. */
export function checkoutNote(repoPath: string, base: string): string {
  return (
    `note: where ${base} is checked out (e.g. ${repoPath}), a clean checkout follows ` +
    `each tested merge; with uncommitted changes the merge waits (status says so) until you ` +
    `commit or stash`
  );
}

/** The given test command, else the detected one (said on stderr), else bad input. */
function chooseTestCommand(
  given: string | null | undefined,
  top: string,
  io: CliIo,
  json: boolean,
): string {
  if (given) return given;
  const detected = detectTestCommand(top);
  if (!detected)
    throw new BadInputError(
      `no test command found in ${top} (looked for package.json scripts.test, pytest, ` +
        `Cargo.toml, go.mod, a Makefile test target); pass --test-cmd CMD`,
    );
  if (!json) io.stderr(`loopwright: test command: ${detected.command} (${detected.because})\n`);
  return detected.command;
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

export const command: Command = {
  name: 'repo',
  summary: 'register, show, change and remove git repositories',
  usage: `usage:
  loopwright repo add <path> [--name N] [SETTINGS...] [--json]
  loopwright repo set <name> SETTINGS... [--json]
  loopwright repo show <name> [--json]
  loopwright repo list [--json]
  loopwright repo remove <name> [--force] [--json]

repo add registers the git work tree containing <path> (its top level is stored; one name per
path). Without --test-cmd the test command is detected (package.json scripts.test, pytest, cargo,
go, make test) and named on stderr; none found is an error. repo set changes a registered one.
repo remove refuses while tickets are active (not LIVE or CANCELLED) unless --force, which
cancels them first; it never touches the repository's files.

SETTINGS (add and set; applied in this order: --settings-file, flags, --unset):
  --settings-file FILE     JSON or YAML: testCmd, liveCmd, checkCmds, baseBranch, concurrency,
                           mode, and the settings below (agents, limits, agentTimeoutSeconds, ...)
  --base BRANCH            branch tickets merge into (add: the current branch)
  --test-cmd CMD           the repository's test command (RED and VALIDATE gates run it)
  --live-cmd CMD           verifies behaviour after a merge (none = no live check)
  --check-cmd CMD          extra check, repeatable (replaces the list); --no-check-cmds clears it
  --concurrency N          tickets worked at once in this repository (1-64, default 2)
  --mode copilot|dark      dark merges by itself; copilot waits for loopwright approve
  --agent ROLE=PROVIDER[:MODEL]   roles lead|generator|validator; providers
                           claude|codex|command|scripted (default lead, generator claude;
                           validator codex). A new provider starts a fresh entry for the role.
  --agent-opt ROLE.KEY=VALUE      per-role option: model, permissionMode, maxTurns,
                           maxBudgetUsd, vendor (command: anthropic|openai|none), extraArgs
                           and command (JSON arrays of strings)
  --agent-env ROLE.NAME=VALUE     provider variable, e.g. validator.OPENAI_BASE_URL=...; names
                           that look like credentials (…_KEY, …_TOKEN, SECRET, PASSWORD) are
                           refused: keys belong in the environment of loopwright run
  --agent-command ROLE='["prog","arg"]'  the role runs this program (command provider)
  --script FILE            the script scripted agents follow (docs/scripted-agents.md)
  --limit KEY=VALUE        ticket budget: maxAttempts, maxPlanRounds, maxRedAttempts,
                           maxContractRetries, maxCostUsd, wallClockSeconds (none = unlimited)
  --set KEY=N              agentTimeoutSeconds, agentStallSeconds (no output for this long:
                           AGENT_STALLED, default 120), gateTimeoutSeconds, maxOutputBytes,
                           worktreeRetentionSeconds, retentionDays (loopwright gc prunes a
                           final ticket's transcripts and workspace after it, default 14)
  --sandbox bwrap|none     bwrap (default): agents and gate commands run under bubblewrap, as
                           an unprivileged user when loopwright runs as root; none: plain processes
  --unset PATH             drop a setting, e.g. agents.generator.permissionMode, limits.maxAttempts

example:
  loopwright repo set app --agent generator=claude:opus \\
    --agent-opt generator.permissionMode=bypassPermissions \\
    --agent-opt generator.extraArgs='["--allowedTools","Bash"]' \\
    --agent validator=codex:gpt-5 --agent-env validator.OPENAI_BASE_URL=http://127.0.0.1:8080/v1 \\
    --agent-command lead='["./bin/lead-agent","--fast"]'
${INTEGRATION_USAGE}`,
  run: (args, ctx) =>
    dispatchSubcommand('repo', args, ctx, {
      add: addRepo,
      list: listRepos,
      show: showRepo,
      set: setRepo,
      remove: removeRepo,
    }),
};
