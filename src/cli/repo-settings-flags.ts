/**
 * The flags of `repo add` and `repo set` that edit a repository: its columns (test, live and check
 * commands, base branch, concurrency, mode) and its factory settings (src/config/repo-settings.ts).
 * Applied in order: the current values, then `--settings-file`, then each flag, then `--unset`;
 * the result is validated as a whole and every problem is one line naming the setting and what is
 * allowed. Nothing here writes; the caller stores the result.
 *
 * @example
 * ```sh
 * loopwright repo set app --agent generator=claude:opus \
 *   --agent-opt generator.permissionMode=bypassPermissions \
 *   --agent-opt generator.extraArgs='["--allowedTools","Bash"]' \
 *   --agent validator=codex:gpt-5 --agent-env validator.OPENAI_BASE_URL=http://127.0.0.1:8080/v1 \
 *   --agent-command lead='["./bin/my-lead","--fast"]' --set agentStallSeconds=90 \
 *   --limit maxAttempts=5
 * ```
 */
import { INTEGRATION_FLAGS, integrationSettingsFromFlags } from '../integrations/flags.js';
import path from 'node:path';
import type { z } from 'zod';
import { ROLES } from '../../machines/ticket.js';
import { preflightAgents } from '../agents/preflight.js';
import { SANDBOX_MODES } from '../agents/sandbox/spec.js';
import { loadScript } from '../agents/scripted/script.js';
import {
  agentChoiceSchema,
  agentFor,
  type RepoSettings,
  repoSettingsSchema,
  vendorOf,
} from '../config/repo-settings.js';
import { BadInputError } from '../errors.js';
import { nonBlank, parseInteger } from './args.js';
import type { CliIo } from './command.js';
import { type RepoColumns, readSettingsFile } from './settings-file.js';

export type { RepoColumns } from './settings-file.js';

const PROVIDERS = agentChoiceSchema.shape.provider.options;
const MODES = ['copilot', 'dark'] as const;

/** Top-level numeric settings `--set KEY=N` may change. */
export const SCALAR_SETTINGS = [
  'agentTimeoutSeconds',
  'agentStallSeconds',
  'gateTimeoutSeconds',
  'maxOutputBytes',
  'worktreeRetentionSeconds',
  'retentionDays',
] as const;

/** Per-role keys `--agent-opt ROLE.KEY=VALUE` may change, and how their values are read. */
const AGENT_OPTS: Record<string, 'string' | 'int' | 'number' | 'argv'> = {
  provider: 'string',
  model: 'string',
  permissionMode: 'string',
  extraArgs: 'argv',
  maxTurns: 'int',
  maxBudgetUsd: 'number',
  command: 'argv',
  vendor: 'string',
};

/** parseArgs options shared by `repo add` and `repo set`. */
export const EDIT_OPTIONS = {
  base: { type: 'string' },
  'test-cmd': { type: 'string' },
  'live-cmd': { type: 'string' },
  'check-cmd': { type: 'string', multiple: true },
  'no-check-cmds': { type: 'boolean' },
  concurrency: { type: 'string' },
  mode: { type: 'string' },
  agent: { type: 'string', multiple: true },
  'agent-opt': { type: 'string', multiple: true },
  'agent-env': { type: 'string', multiple: true },
  'agent-command': { type: 'string', multiple: true },
  script: { type: 'string' },
  limit: { type: 'string', multiple: true },
  set: { type: 'string', multiple: true },
  unset: { type: 'string', multiple: true },
  'settings-file': { type: 'string' },
  sandbox: { type: 'string' },
  ...INTEGRATION_FLAGS,
} as const;

export type EditFlags = {
  readonly [K in keyof typeof EDIT_OPTIONS]?: (typeof EDIT_OPTIONS)[K] extends {
    multiple: true;
  }
    ? string[]
    : (typeof EDIT_OPTIONS)[K] extends { type: 'boolean' }
      ? boolean
      : string;
};

export interface RepoEdit {
  readonly columns: RepoColumns;
  readonly settings: RepoSettings;
}

/**
 * Apply the flags to a repository's current settings. `current` is the stored settings document
 * (`{}` for a new repository).
 */
export async function editRepo(
  current: Readonly<Record<string, unknown>>,
  flags: EditFlags,
  cwd: string,
): Promise<RepoEdit> {
  const settings = structuredClone(current) as Record<string, unknown>;
  const columns: RepoColumns = {};
  if (flags['settings-file'] !== undefined) {
    const file = await readSettingsFile(path.resolve(cwd, flags['settings-file']));
    Object.assign(columns, file.columns);
    deepMerge(settings, file.settings);
  }
  Object.assign(columns, columnFlags(flags));
  applyAgentFlags(settings, flags);
  for (const raw of flags.limit ?? []) {
    const [key, value] = keyValue('--limit', raw, 'key=number (or key=none)');
    const number = value === 'none' ? null : Number(value);
    if (number !== null && (!Number.isFinite(number) || value.trim() === ''))
      throw new BadInputError(`--limit ${key} must be a number or none, got "${value}"`);
    objectAt(settings, ['limits'])[key] = number;
  }
  for (const raw of flags.set ?? []) {
    const [key, value] = keyValue('--set', raw, 'key=value');
    if (!(SCALAR_SETTINGS as readonly string[]).includes(key))
      throw new BadInputError(
        `--set ${key}: unknown setting (allowed: ${SCALAR_SETTINGS.join(', ')}; agents use ` +
          `--agent-opt, budgets --limit)`,
      );
    settings[key] = parseInteger(`--set ${key}`, value, { min: 0 });
  }
  if (flags.script !== undefined) settings.script = checkedScript(path.resolve(cwd, flags.script));
  if (flags.sandbox !== undefined) {
    if (!(SANDBOX_MODES as readonly string[]).includes(flags.sandbox))
      throw new BadInputError(
        `--sandbox must be ${SANDBOX_MODES.join(' or ')}, got "${flags.sandbox}"`,
      );
    settings.sandbox = flags.sandbox;
  }
  Object.assign(
    settings,
    integrationSettingsFromFlags(flags, settings as { github?: object; linear?: object }),
  );
  for (const raw of flags.unset ?? []) unset(settings, raw);
  return { columns, settings: validateSettings(settings) };
}

function columnFlags(flags: EditFlags): RepoColumns {
  const columns: RepoColumns = {};
  const base = nonBlank('--base', flags.base);
  if (base !== undefined) columns.base_branch = base;
  if (flags['test-cmd'] !== undefined) columns.test_cmd = nonBlank('--test-cmd', flags['test-cmd']);
  if (flags['live-cmd'] !== undefined)
    columns.live_cmd =
      flags['live-cmd'] === 'none' ? null : nonBlank('--live-cmd', flags['live-cmd']);
  if (flags['no-check-cmds']) columns.check_cmds = [];
  if (flags['check-cmd'] !== undefined)
    columns.check_cmds = flags['check-cmd'].map((c) => nonBlank('--check-cmd', c)!);
  const concurrency = parseInteger('--concurrency', flags.concurrency, { min: 1, max: 64 });
  if (concurrency !== undefined) columns.concurrency = concurrency;
  if (flags.mode !== undefined) {
    if (!(MODES as readonly string[]).includes(flags.mode))
      throw new BadInputError(`--mode must be copilot or dark, got "${flags.mode}"`);
    columns.mode = flags.mode as 'copilot' | 'dark';
  }
  return columns;
}

function applyAgentFlags(settings: Record<string, unknown>, flags: EditFlags): void {
  for (const raw of flags.agent ?? []) {
    const match = /^([a-z]+)=([a-z]+)(?::(.+))?$/.exec(raw);
    if (!match || !isRole(match[1]!) || !(PROVIDERS as readonly string[]).includes(match[2]!))
      throw new BadInputError(
        `--agent must be role=provider[:model] with role ${ROLES.join('|')} and ` +
          `provider ${PROVIDERS.join('|')}, got "${raw}"`,
      );
    const agents = objectAt(settings, ['agents']);
    const previous = agents[match[1]!] as Record<string, unknown> | undefined;
    // A new provider starts a fresh entry: another CLI's options would not mean the same.
    const entry: Record<string, unknown> =
      previous?.provider === match[2] ? { ...previous } : { provider: match[2] };
    if (match[3]) entry.model = match[3];
    else delete entry.model;
    agents[match[1]!] = entry;
  }
  for (const raw of flags['agent-command'] ?? []) {
    const [role, value] = keyValue('--agent-command', raw, `role='["program","arg"]'`);
    if (!isRole(role)) throw badRole('--agent-command', role);
    const entry = roleEntry(settings, role);
    if (entry.provider !== 'command') {
      for (const key of Object.keys(entry)) delete entry[key];
      entry.provider = 'command';
    }
    entry.command = argvValue(`--agent-command ${role}`, value);
  }
  for (const raw of flags['agent-opt'] ?? []) {
    const [dotted, value] = keyValue('--agent-opt', raw, 'role.option=value');
    const [role, key] = splitRoleKey('--agent-opt', dotted);
    const kind = AGENT_OPTS[key];
    if (!kind)
      throw new BadInputError(
        `--agent-opt ${dotted}: unknown option "${key}" ` +
          `(allowed: ${Object.keys(AGENT_OPTS).join(', ')}; variables use --agent-env)`,
      );
    roleEntry(settings, role)[key] = optionValue(`--agent-opt ${dotted}`, kind, value);
  }
  for (const raw of flags['agent-env'] ?? []) {
    const [dotted, value] = keyValue('--agent-env', raw, 'role.NAME=value');
    const [role, name] = splitRoleKey('--agent-env', dotted);
    const entry = roleEntry(settings, role);
    const env = (entry.env ??= {}) as Record<string, unknown>;
    env[name] = value;
  }
}

/** The role's settings entry, starting from its default provider when it has none yet. */
function roleEntry(settings: Record<string, unknown>, role: string): Record<string, unknown> {
  const agents = objectAt(settings, ['agents']);
  const entry = agents[role];
  if (entry && typeof entry === 'object') return entry as Record<string, unknown>;
  const fresh: Record<string, unknown> = {
    ...agentFor(repoSettingsSchema.parse({}), role as (typeof ROLES)[number]),
  };
  agents[role] = fresh;
  return fresh;
}

function optionValue(flag: string, kind: string, value: string): unknown {
  if (kind === 'argv') return argvValue(flag, value);
  if (kind === 'int') return parseInteger(flag, value, { min: 1 });
  if (kind === 'number') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n))
      throw new BadInputError(`${flag} must be a number, got "${value}"`);
    return n;
  }
  return value;
}

/** A JSON array of strings: `'["--allowedTools","Bash"]'`. */
function argvValue(flag: string, value: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.some((a) => typeof a !== 'string'))
    throw new BadInputError(
      `${flag} must be a JSON array of strings, e.g. '["--allowedTools","Bash"]', ` +
        `got ${JSON.stringify(value)}`,
    );
  return parsed as string[];
}

function keyValue(flag: string, raw: string, shape: string): [string, string] {
  const at = raw.indexOf('=');
  if (at <= 0) throw new BadInputError(`${flag} must be ${shape}, got "${raw}"`);
  return [raw.slice(0, at).trim(), raw.slice(at + 1)];
}

function splitRoleKey(flag: string, dotted: string): [string, string] {
  const dot = dotted.indexOf('.');
  const role = dot === -1 ? dotted : dotted.slice(0, dot);
  const key = dot === -1 ? '' : dotted.slice(dot + 1);
  if (!isRole(role)) throw badRole(flag, role);
  if (!key) throw new BadInputError(`${flag} must name role.key, got "${dotted}"`);
  return [role, key];
}

const isRole = (role: string) => (ROLES as readonly string[]).includes(role);
const badRole = (flag: string, role: string) =>
  new BadInputError(`${flag}: unknown role "${role}" (allowed: ${ROLES.join(', ')})`);

/** `--unset agents.generator.permissionMode`, `--unset limits.maxAttempts`, `--unset script`. */
function unset(settings: Record<string, unknown>, dotted: string): void {
  const parts = dotted.split('.').filter(Boolean);
  if (parts.length === 0)
    throw new BadInputError('--unset needs a setting path, e.g. limits.maxAttempts');
  let at: unknown = settings;
  for (const part of parts.slice(0, -1)) {
    at = at && typeof at === 'object' ? (at as Record<string, unknown>)[part] : undefined;
  }
  const last = parts.at(-1)!;
  if (!at || typeof at !== 'object' || !Object.hasOwn(at, last))
    throw new BadInputError(`--unset ${dotted}: no such setting is set (see loopwright repo show)`);
  delete (at as Record<string, unknown>)[last];
}

function objectAt(root: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  let at = root;
  for (const key of keys) {
    const next = at[key];
    if (!next || typeof next !== 'object' || Array.isArray(next)) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  return at;
}

function deepMerge(into: Record<string, unknown>, from: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(from)) {
    const existing = into[key];
    if (
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      existing &&
      typeof existing === 'object' &&
      !Array.isArray(existing)
    )
      deepMerge(existing as Record<string, unknown>, value as Record<string, unknown>);
    else into[key] = value;
  }
}

function checkedScript(file: string): string {
  try {
    loadScript(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BadInputError(
      code === 'ENOENT'
        ? `--script ${file}: no such file`
        : `--script ${file} is not a valid script (see ` +
            `docs/scripted-agents.md): ${oneLine((error as Error).message)}`,
    );
  }
  return file;
}

/** Validate the whole document; the first problem becomes one line naming the setting. */
export function validateSettings(settings: unknown): RepoSettings {
  const parsed = repoSettingsSchema.safeParse(settings);
  if (!parsed.success) throw new BadInputError(describeIssue(parsed.error.issues[0]!));
  for (const role of ROLES) {
    const entry = parsed.data.agents[role];
    if (entry?.provider === 'command' && !entry.command?.length)
      throw new BadInputError(
        `invalid setting agents.${role}.command: the command provider needs its argv ` +
          `(--agent-command ${role}='["program","arg"]')`,
      );
  }
  if (
    Object.values(parsed.data.agents).some((a) => a?.provider === 'scripted') &&
    !parsed.data.script
  )
    throw new BadInputError(
      'scripted agents need --script <file> (format: docs/scripted-agents.md)',
    );
  return parsed.data;
}

/** One zod issue as one line: the setting's path, what was wrong, what is allowed. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.map(String).join('.') || '(settings)';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (at === '(settings)' ? k : `${at}.${k}`));
    return `unknown setting ${keys.join(', ')} (see loopwright repo --help for the settings)`;
  }
  // A record key that failed its own check (e.g. a credential-like env name): say why.
  const inner = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
  return `invalid setting ${at}: ${oneLine(inner ?? issue.message)}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * A warning when the Validator would use the Generator's vendor: two models are differently wrong.
 */
export function sameVendorWarning(settings: RepoSettings): string | null {
  const generator = agentFor(settings, 'generator');
  const validator = agentFor(settings, 'validator');
  // The built-in scripted agents and arbitrary commands are not models with a vendor's blind spots.
  if ([generator, validator].some((a) => a.provider === 'scripted' || a.provider === 'command'))
    return null;
  const g = vendorOf(generator);
  if (g !== vendorOf(validator) || g === 'none') return null;
  return (
    `warning: the validator uses the same vendor as the generator (${g}); a different ` +
    `vendor catches more (e.g. --agent validator=codex)`
  );
}

/**
 * The same-vendor warning and each preflight problem (never fatal): one line each on stderr, or
 * returned for the `--json` document's `warnings` when `json` is set.
 */
export async function warnAboutAgents(
  io: CliIo,
  settings: RepoSettings,
  json = false,
): Promise<string[]> {
  const warnings = [
    ...(sameVendorWarning(settings) ? [sameVendorWarning(settings)!] : []),
    ...(await preflightAgents(settings, { env: io.env, skipVersion: true })).map(
      (p) => `warning: ${p.message}`,
    ),
  ];
  if (!json) for (const line of warnings) io.stderr(`loopwright: ${line}\n`);
  return warnings;
}
