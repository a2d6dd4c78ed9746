/**
 * The `claude` provider: Claude Code headless.
 *
 *   claude -p --output-format stream-json --verbose [--model M] --permission-mode P
 *          [--max-turns N] [--max-budget-usd X] [--append-system-prompt CHARTER] -- PROMPT
 *
 * The charter is appended to Claude Code's own system prompt (replacing it would drop the tool
 * instructions). Status is `ok` only with a result line, `is_error: false` and exit code 0.
 */
import { claudeCommand } from './binaries.js';
import { ClaudeStreamParser } from './claude-stream.js';
import type { AgentInvocation, AgentOutcome, AgentProvider, AgentVendor } from './provider.js';
import { runAgent, type ProviderSettings } from './run-agent.js';

/** Edits inside the worktree are accepted without asking: there is nobody to ask. */
export const DEFAULT_CLAUDE_PERMISSION_MODE = 'acceptEdits';

export interface ClaudeProviderConfig extends ProviderSettings {
  /** Argv prefix instead of the resolved `claude` binary (see `binaries.ts`). */
  readonly command?: readonly string[];
  /** Defaults to `claude`; the scripted provider reuses this adapter under its own name. */
  readonly name?: string;
  readonly vendor?: AgentVendor;
  readonly defaultModel?: string;
  /** Extra task variables every run gets (the scripted provider passes its script path). */
  readonly taskEnv?: Readonly<Record<string, string>>;
}

export function createClaudeProvider(config: ClaudeProviderConfig = {}): AgentProvider {
  const vendor = config.vendor ?? 'anthropic';
  return {
    name: config.name ?? 'claude',
    vendor,
    run(inv: AgentInvocation): Promise<AgentOutcome> {
      const prefix = inv.options?.command ?? config.command ?? claudeCommand();
      const argv = [...prefix, ...claudeArgs(inv, config)];
      return runAgent(inv, {
        argv,
        vendor,
        parser: new ClaudeStreamParser(),
        settings: config,
        ...(config.taskEnv ? { taskEnv: config.taskEnv } : {}),
      });
    },
  };
}

/** The flags after the program, prompt last (after `--`, so a prompt starting with `-` is safe). */
export function claudeArgs(
  inv: AgentInvocation,
  config: Pick<ClaudeProviderConfig, 'defaultModel' | 'extraArgs'> = {},
): string[] {
  const options = inv.options ?? {};
  const model = inv.model ?? config.defaultModel;
  const args = ['-p', '--output-format', 'stream-json', '--verbose'];
  if (model) args.push('--model', model);
  args.push('--permission-mode', options.permissionMode ?? DEFAULT_CLAUDE_PERMISSION_MODE);
  if (options.maxTurns !== undefined) args.push('--max-turns', String(options.maxTurns));
  if (options.maxBudgetUsd !== undefined)
    args.push('--max-budget-usd', String(options.maxBudgetUsd));
  if (inv.systemPrompt.trim()) args.push('--append-system-prompt', inv.systemPrompt);
  args.push(...(config.extraArgs ?? []), '--', inv.prompt);
  return args;
}
