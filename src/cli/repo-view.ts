/**
 * A repository as `repo show|list|add|set --json` print it (and the MCP server reuses): its
 * columns plus its settings with every default filled in and each role's effective agent.
 */
import { ROLES } from '../../machines/ticket.js';
import {
  type AgentChoice,
  agentFor,
  type RepoSettings,
  repoSettingsSchema,
} from '../config/repo-settings.js';
import type { Repository } from '../db/repositories.js';
import type { CliIo } from './command.js';
import { printFields, printLine } from './output.js';

/** The JSON view of a repository (camelCased by the contract when printed). */
export function repoJson(repo: Repository) {
  const parsed = repoSettingsSchema.safeParse(repo.settings ?? {});
  const settings = parsed.success ? parsed.data : null;
  return {
    name: repo.name,
    path: repo.path,
    base_branch: repo.base_branch,
    test_cmd: repo.test_cmd,
    live_cmd: repo.live_cmd,
    check_cmds: repo.check_cmds,
    concurrency: repo.concurrency,
    mode: repo.mode,
    settings: settings ?? repo.settings,
    /** Each role's agent after defaults: what `run` will start. */
    agents: settings
      ? Object.fromEntries(ROLES.map((role) => [role, agentFor(settings, role)]))
      : null,
    created_at: repo.created_at,
  };
}

/** `repo show` for people: columns, then one block per role, then timeouts and limits. */
export function printRepo(io: CliIo, repo: Repository): void {
  const view = repoJson(repo);
  printFields(io, [
    ['name', repo.name],
    ['path', repo.path],
    ['base', repo.base_branch],
    ['mode', repo.mode],
    ['concurrency', repo.concurrency],
    ['test', repo.test_cmd],
    ['live', repo.live_cmd],
    ['checks', repo.check_cmds.length ? repo.check_cmds.join(' ; ') : null],
  ]);
  if (!view.agents) {
    printLine(io, 'settings: invalid (fix with loopwright repo set or --settings-file)');
    return;
  }
  printLine(io);
  for (const role of ROLES) {
    const a: AgentChoice = view.agents[role] ?? agentFor({ agents: {} } as RepoSettings, role);
    const parts = [
      a.model ? `model ${a.model}` : null,
      a.permissionMode ? `permissionMode ${a.permissionMode}` : null,
      a.extraArgs ? `extraArgs ${JSON.stringify(a.extraArgs)}` : null,
      a.command ? `command ${JSON.stringify(a.command)}` : null,
      a.vendor ? `vendor ${a.vendor}` : null,
      a.maxTurns ? `maxTurns ${a.maxTurns}` : null,
      a.maxBudgetUsd ? `maxBudgetUsd ${a.maxBudgetUsd}` : null,
      a.env ? `env ${Object.keys(a.env).join(',')}` : null,
    ].filter(Boolean);
    printLine(
      io,
      `${`${role}:`.padEnd(11)} ${a.provider}${parts.length ? `  ${parts.join('  ')}` : ''}`,
    );
  }
  const s = view.settings as Record<string, unknown>;
  printLine(io);
  printFields(io, [
    ['agentTimeoutSeconds', s.agentTimeoutSeconds],
    ['agentStallSeconds', s.agentStallSeconds],
    ['gateTimeoutSeconds', s.gateTimeoutSeconds],
    ['limits', s.limits ? JSON.stringify(s.limits) : '(defaults)'],
    ['script', s.script],
  ]);
}
