/**
 * The `codex` provider: Codex CLI non-interactive.
 *
 *   codex exec --json --sandbox S --cd CWD --skip-git-repo-check [--model M]
 *              [-c developer_instructions="CHARTER"] [extra args] -- PROMPT
 *
 * Codex has no "append to the system prompt" flag; `developer_instructions` adds a developer
 * message while keeping Codex's own instructions (it also reads the repo's AGENTS.md itself).
 * Codex has no turn or budget limit flags, and reports no cost.
 */
import { codexCommand } from './binaries.js';
import { CodexEventParser } from './codex-events.js';
import type { AgentInvocation, AgentOutcome, AgentProvider } from './provider.js';
import { runAgent, type ProviderSettings } from './run-agent.js';

export const CODEX_SANDBOX_MODES = ['read-only', 'workspace-write', 'danger-full-access'] as const;
export const DEFAULT_CODEX_SANDBOX = 'workspace-write';

export interface CodexProviderConfig extends ProviderSettings {
  /** Argv prefix instead of the resolved `codex` launcher (see `binaries.ts`). */
  readonly command?: readonly string[];
  readonly defaultModel?: string;
}

export function createCodexProvider(config: CodexProviderConfig = {}): AgentProvider {
  return {
    name: 'codex',
    vendor: 'openai',
    run(inv: AgentInvocation): Promise<AgentOutcome> {
      const prefix = inv.options?.command ?? config.command ?? codexCommand();
      const argv = [...prefix, ...codexArgs(inv, config)];
      return runAgent(inv, {
        argv,
        vendor: 'openai',
        parser: new CodexEventParser(),
        settings: config,
      });
    },
  };
}

/** `options.permissionMode` is used as the sandbox when it names one; otherwise workspace-write. */
export function codexArgs(
  inv: AgentInvocation,
  config: Pick<CodexProviderConfig, 'defaultModel' | 'extraArgs'> = {},
): string[] {
  const requested = inv.options?.permissionMode;
  const sandbox = (CODEX_SANDBOX_MODES as readonly string[]).includes(requested ?? '')
    ? requested!
    : DEFAULT_CODEX_SANDBOX;
  const model = inv.model ?? config.defaultModel;
  const args = ['exec', '--json', '--sandbox', sandbox, '--cd', inv.cwd, '--skip-git-repo-check'];
  if (model) args.push('--model', model);
  // -c values are TOML; a JSON string literal is a valid TOML basic string.
  if (inv.systemPrompt.trim())
    args.push('-c', `developer_instructions=${JSON.stringify(inv.systemPrompt)}`);
  args.push(...(config.extraArgs ?? []), '--', inv.prompt);
  return args;
}
