/**
 * The part every provider shares: scrub the environment, run the argv as a process group, feed
 * stdout to the provider's parser, settle the outcome.
 */
import { buildAgentEnv } from './agent-env.js';
import { EMPTY_PARSE, settleOutcome, type ParsedRun } from './outcome.js';
import type { AgentInvocation, AgentOutcome, AgentVendor } from './provider.js';
import { DEFAULT_KILL_GRACE_MS, type LineWatch, runProcessGroup } from './spawn-group.js';
import { classifyAgentLine } from './unavailable.js';
import { agentProcessTag } from './process-identity.js';

/** Reconnect chatter does not count as progress; refused credentials stop the run at once. */
function watchLine(line: string, stream: 'stdout' | 'stderr'): LineWatch {
  const verdict = classifyAgentLine(line, stream);
  return verdict.kind === 'unavailable' ? { stop: verdict.why } : verdict.kind;
}

/** Provider settings that are not per run. */
export interface ProviderSettings {
  /**
   * Operator environment for the child (e.g. a base URL); still filtered by the vendor's
   * allow-list.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra CLI arguments placed before the prompt (e.g. codex `-c key=value` overrides). */
  readonly extraArgs?: readonly string[];
  /** Grace between SIGTERM and SIGKILL of the group. Default {@link DEFAULT_KILL_GRACE_MS}. */
  readonly killGraceMs?: number;
}

export interface OutputParser {
  readonly push: (line: string) => void;
  parsed(): ParsedRun;
}

/** Where the orchestrator writes the handover, relative to the worktree. */
export const TASK_FILE = '.loopwright/task.md';

/** Task variables every agent gets; the caller's `inv.env` may override them. */
export function runIdentityEnv(inv: AgentInvocation): Record<string, string> {
  return {
    LOOPWRIGHT_RUN_ID: inv.runId,
    LOOPWRIGHT_ROLE: inv.role,
    LOOPWRIGHT_PHASE: inv.phase,
    LOOPWRIGHT_TASK_FILE: TASK_FILE,
  };
}

/**
 * Run one agent process group for `inv` and interpret its output with `parser`.
 *
 * @example
 * await runAgent(inv, { argv, vendor: 'anthropic', parser: new ClaudeStreamParser(), settings });
 */
export async function runAgent(
  inv: AgentInvocation,
  spec: {
    argv: readonly string[];
    vendor: AgentVendor;
    parser: OutputParser | null;
    settings: ProviderSettings;
    taskEnv?: Readonly<Record<string, string>>;
  },
): Promise<AgentOutcome> {
  const task = { ...runIdentityEnv(inv), ...spec.taskEnv, ...inv.env };
  const env = buildAgentEnv({ vendor: spec.vendor, configured: spec.settings.env, task });
  const group = await runProcessGroup({
    argv: spec.argv,
    cwd: inv.cwd,
    env,
    tag: agentProcessTag(inv.runId),
    timeoutMs: inv.timeoutMs,
    maxOutputBytes: inv.maxOutputBytes,
    transcriptPath: inv.transcriptPath,
    killGraceMs: spec.settings.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
    ...(inv.signal ? { signal: inv.signal } : {}),
    ...(inv.onSpawn ? { onSpawn: inv.onSpawn } : {}),
    ...(inv.sandbox ? { sandbox: inv.sandbox } : {}),
    ...(spec.parser ? { onStdoutLine: spec.parser.push } : {}),
    ...(inv.stallMs ? { stallMs: inv.stallMs } : {}),
    watchLine,
  });
  const parsed = spec.parser ? spec.parser.parsed() : { ...EMPTY_PARSE, reportedSuccess: true };
  return settleOutcome(group, parsed);
}
