/**
 * The environment an agent child gets: an allow-list, its own vendor's variables, and the run's
 * `LOOPWRIGHT_*` task variables — never tracker, GitHub, database or cloud credentials, and not
 * even
 * the other vendor's key. Built from scratch, so a variable nobody thought of stays out.
 */
import type { AgentVendor } from './provider.js';

/** Variables every agent needs to behave like a normal program. */
export const BASE_ENV_NAMES: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TERM',
  'TMPDIR',
  'SHELL',
  'TZ',
];

interface VendorEnv {
  readonly names: readonly string[];
  readonly prefixes: readonly string[];
}

/** Each vendor's own key and configuration; another vendor's never leaks across. */
export const VENDOR_ENV: Readonly<Record<AgentVendor, VendorEnv>> = {
  anthropic: {
    names: [
      'ANTHROPIC_API_KEY',
      'ANTHROPIC_BASE_URL',
      'CLAUDE_CONFIG_DIR',
      'DISABLE_TELEMETRY',
      'DISABLE_AUTOUPDATER',
      'DISABLE_ERROR_REPORTING',
      'IS_SANDBOX',
    ],
    prefixes: ['CLAUDE_CODE_'],
  },
  openai: { names: ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'CODEX_HOME'], prefixes: [] },
  none: { names: [], prefixes: [] },
};

/** Task variables the orchestrator passes; the database URL is never one of them. */
const TASK_PREFIX = 'LOOPWRIGHT_';
const NEVER_PASSED: ReadonlySet<string> = new Set(['LOOPWRIGHT_DATABASE_URL']);

export interface AgentEnvSources {
  readonly vendor: AgentVendor;
  /** The worker's own environment (default `process.env`); only allowed names are copied. */
  readonly parent?: NodeJS.ProcessEnv;
  /** Operator configuration for this provider (e.g. a base URL); filtered like `parent`. */
  readonly configured?: Readonly<Record<string, string>>;
  /** The run's task variables; only `LOOPWRIGHT_*` names pass. */
  readonly task?: Readonly<Record<string, string>>;
}

/**
 * Build a child's environment: allow-listed parent variables, overridden by configured ones,
 * then the task's `LOOPWRIGHT_*` variables.
 *
 * @example
 * buildAgentEnv({ vendor: 'anthropic', task: { LOOPWRIGHT_TICKET: 'LW-1' } });
 * // { PATH, HOME, ..., ANTHROPIC_API_KEY, LOOPWRIGHT_TICKET } — no GITHUB_TOKEN, no OPENAI_API_KEY
 */
export function buildAgentEnv(sources: AgentEnvSources): Record<string, string> {
  const allowed = (name: string) => isAllowed(sources.vendor, name);
  const env: Record<string, string> = {};
  for (const layer of [sources.parent ?? process.env, sources.configured ?? {}]) {
    for (const [name, value] of Object.entries(layer)) {
      if (value !== undefined && allowed(name)) env[name] = value;
    }
  }
  for (const [name, value] of Object.entries(sources.task ?? {})) {
    if (name.startsWith(TASK_PREFIX) && !NEVER_PASSED.has(name)) env[name] = value;
  }
  return env;
}

/** True if `name` may reach a child of `vendor` from the parent or configuration. */
export function isAllowed(vendor: AgentVendor, name: string): boolean {
  if (BASE_ENV_NAMES.includes(name)) return true;
  const own = VENDOR_ENV[vendor];
  return own.names.includes(name) || own.prefixes.some((prefix) => name.startsWith(prefix));
}
