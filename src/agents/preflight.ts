/**
 * Preflight: can each configured agent run at all? For every role of a repository: the binary
 * starts and is a supported version, and credentials are present (the vendor's key variable or
 * the CLI's own login files). A problem is one line naming the role, the provider and the fix —
 * the same sentence an AGENT_UNAVAILABLE escalation carries (./unavailable-event.ts).
 * Run by `repo add|set`, at `run` start and by `loopwright doctor`.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROLES, type Role } from '../../machines/ticket.js';
import { type AgentChoice, agentFor, type RepoSettings } from '../config/repo-settings.js';
import { claudeCommand, codexCommand } from './binaries.js';
import { loadScript } from './scripted/script.js';

/** One finding about one role's agent. */
export interface PreflightProblem {
  readonly role: Role;
  readonly provider: AgentChoice['provider'];
  readonly check: 'binary' | 'version' | 'credentials' | 'script';
  /** One line: who, what is wrong, the fix. */
  readonly message: string;
}

/** The oldest CLI versions whose headless protocol loopwright speaks. */
export const MIN_VERSIONS = { claude: '2.0.0', codex: '0.50.0' } as const;

/** Credential variables each CLI accepts (any one is enough). */
const CLAUDE_KEYS = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'CLAUDE_CODE_USE_BEDROCK',
  'CLAUDE_CODE_USE_VERTEX',
];
const CODEX_KEYS = ['OPENAI_API_KEY', 'CODEX_API_KEY'];

/** The fix for missing or refused credentials, in one sentence. */
export function credentialFix(choice: AgentChoice): string {
  if (choice.provider === 'claude') return 'set ANTHROPIC_API_KEY or run `claude login`';
  if (choice.provider === 'codex') return 'set OPENAI_API_KEY or run `codex login`';
  if (choice.provider === 'command') {
    const key =
      choice.vendor === 'openai'
        ? 'OPENAI_API_KEY'
        : choice.vendor === 'anthropic'
          ? 'ANTHROPIC_API_KEY'
          : 'no key';
    return (
      `give the command its credentials in the environment of \`loopwright run\` ` +
      `(vendor ${choice.vendor ?? 'none'} passes ${key})`
    );
  }
  return 'check the scripted agent script';
}

/** The fix for a binary that cannot be started, in one sentence. */
export function installFix(choice: AgentChoice): string {
  if (choice.provider === 'claude')
    return (
      'the claude CLI cannot be started: run `npm install` in loopwright (it ships ' +
      '@anthropic-ai/claude-code) or set LOOPWRIGHT_CLAUDE_BIN'
    );
  if (choice.provider === 'codex')
    return (
      'the codex CLI cannot be started: run `npm install` in loopwright (it ships ' +
      '@openai/codex) or set LOOPWRIGHT_CODEX_BIN'
    );
  if (choice.provider === 'command')
    return (
      `the command ${JSON.stringify(choice.command?.[0] ?? '')} cannot be started: fix ` +
      `it with loopwright repo set NAME --agent-command ROLE='["program","arg"]'`
    );
  return 'the scripted agent cannot be started';
}

export interface PreflightOptions {
  /** The environment `loopwright run` gives agents (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Skip starting the CLIs (`--version`); only presence and credentials are checked. */
  readonly skipVersion?: boolean;
}

/**
 * Check every role's agent of one repository's settings; the empty list means all can run.
 * Each distinct provider is probed once.
 */
export async function preflightAgents(
  settings: RepoSettings,
  options: PreflightOptions = {},
): Promise<PreflightProblem[]> {
  const env = options.env ?? process.env;
  const problems: PreflightProblem[] = [];
  const probed = new Map<string, Promise<string | null>>();
  for (const role of ROLES) {
    const choice = agentFor(settings, role);
    const key = JSON.stringify([choice.provider, choice.command]);
    if (!probed.has(key)) probed.set(key, probeBinary(choice, settings, env, options));
    const binaryProblem = await probed.get(key)!;
    const who = `${role} uses ${choice.provider}`;
    if (binaryProblem) {
      const check = /version/.test(binaryProblem)
        ? 'version'
        : choice.provider === 'scripted'
          ? 'script'
          : 'binary';
      problems.push({
        role,
        provider: choice.provider,
        check,
        message: `${who}: ${binaryProblem}`,
      });
      continue;
    }
    if (!hasCredentials(choice, env))
      problems.push({
        role,
        provider: choice.provider,
        check: 'credentials',
        message: `${who}: ${credentialFix(choice)}`,
      });
  }
  return problems;
}

/** Whether the CLI will find credentials: a key variable, or its own login files. */
export function hasCredentials(choice: AgentChoice, env: NodeJS.ProcessEnv): boolean {
  const home = env.HOME ?? '';
  const configured = choice.env ?? {};
  const anySet = (names: readonly string[]) =>
    names.some((n) => (env[n] ?? configured[n] ?? '').trim() !== '');
  if (choice.provider === 'claude') {
    const dir = env.CLAUDE_CONFIG_DIR || path.join(home, '.claude');
    return anySet(CLAUDE_KEYS) || existsSync(path.join(dir, '.credentials.json'));
  }
  if (choice.provider === 'codex') {
    const dir = env.CODEX_HOME || path.join(home, '.codex');
    return anySet(CODEX_KEYS) || existsSync(path.join(dir, 'auth.json'));
  }
  if (choice.provider === 'command') {
    if (choice.vendor === 'anthropic') return anySet(CLAUDE_KEYS);
    if (choice.vendor === 'openai') return anySet(CODEX_KEYS);
  }
  return true;
}

/** Null when the binary starts and is supported; else what is wrong, with the fix. */
async function probeBinary(
  choice: AgentChoice,
  settings: RepoSettings,
  env: NodeJS.ProcessEnv,
  options: PreflightOptions,
): Promise<string | null> {
  if (choice.provider === 'scripted') return probeScript(settings.script);
  if (choice.provider === 'command') {
    const program = choice.command?.[0];
    return program && resolveProgram(program, env) ? null : installFix(choice);
  }
  const argv = choice.provider === 'claude' ? claudeCommand(env) : codexCommand(env);
  if (!resolveProgram(argv[0]!, env)) return installFix(choice);
  if (options.skipVersion) return null;
  const version = await versionOf(argv, env);
  if (version === null) return installFix(choice);
  const min = MIN_VERSIONS[choice.provider];
  if (compareVersions(version, min) < 0)
    return (
      `version ${version} is older than the supported ${min}: update it (npm install in ` +
      `loopwright, or point LOOPWRIGHT_${choice.provider.toUpperCase()}_BIN at a newer one)`
    );
  return null;
}

function probeScript(script: string | undefined): string | null {
  if (!script) return 'no script: set one with --script FILE';
  try {
    loadScript(script);
    return null;
  } catch (error) {
    return `the script ${script} cannot be used: ${(error as Error).message.split('\n')[0]}`;
  }
}

/** An absolute/relative path that is an executable file, or a name found on PATH. */
export function resolveProgram(program: string, env: NodeJS.ProcessEnv): string | null {
  const runnable = (file: string) => {
    try {
      if (!statSync(file).isFile()) return false;
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (program.includes('/')) return runnable(program) ? program : null;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, program);
    if (runnable(file)) return file;
  }
  return null;
}

/** `<argv> --version` within 15 s: the first x.y.z it prints, or null. */
export function versionOf(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      argv[0]!,
      [...argv.slice(1), '--version'],
      { env: { PATH: env.PATH ?? '', HOME: env.HOME ?? '' }, timeout: 15_000 },
      (error, stdout) => {
        const match = /(\d+)\.(\d+)\.(\d+)/.exec(String(stdout));
        resolve(error && !match ? null : (match?.[0] ?? null));
      },
    );
  });
}

/** Numeric x.y.z comparison. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
