/**
 * The agent contract: what the worker hands a provider ({@link AgentInvocation}) and what comes
 * back ({@link AgentOutcome}). Types only: the implementations import from here, and the registry
 * that picks one by name lives in ./providers.ts, so nothing here depends on an implementation.
 */
import type { SandboxSpec } from './sandbox/spec.js';

/** Which agent a run is. One word, one meaning: see AGENTS.md's glossary. */
export type AgentRole = 'lead' | 'generator' | 'validator';

/** Whose API key a child may see. `none`: no vendor key at all. */
export type AgentVendor = 'anthropic' | 'openai' | 'none';

/** Where a spawned group can be found again later, e.g. by `reapOrphans` (reap.ts). */
export interface SpawnedGroup {
  readonly pid: number;
  readonly pgid: number;
  /**
   * Opaque process start time (Linux: /proc starttime in clock ticks), to tell a reused pid from
   * ours.
   */
  readonly startTime: string;
  /**
   * The run's unique `LOOPWRIGHT_PROCESS_TAG` value, inherited by every descendant: finds those
   * that left the group (e.g. Claude Code's Bash tool runs commands in their own session).
   */
  readonly tag?: string;
}

/**
 * One disposable agent run.
 *
 * @example
 * const outcome = await provider.run({
 *   runId, role: 'generator', phase: 'BUILD', cwd: worktree,
 *   prompt: 'Read .loopwright/task.md and follow it. Write .loopwright/report.json.',
 *   systemPrompt: charter, timeoutMs: 30 * 60_000, maxOutputBytes: 20 * 2 ** 20,
 *   transcriptPath: path.join(runsDir, `${runId}.jsonl`),
 *   env: { LOOPWRIGHT_TICKET: 'LW-12', LOOPWRIGHT_TASK_FILE: '.loopwright/task.md' },
 * });
 */
export interface AgentInvocation {
  readonly runId: string;
  readonly role: AgentRole;
  readonly phase: string;
  /** The ticket's git worktree; the child's working directory. */
  readonly cwd: string;
  /**
   * Short instruction, e.g. "Read .loopwright/task.md and follow it. Write
   * .loopwright/report.json."
   */
  readonly prompt: string;
  /** Role charter plus the target repo's AGENTS.md/CLAUDE.md, assembled by the caller. */
  readonly systemPrompt: string;
  readonly model?: string;
  /** Wall clock; on expiry the whole process group is killed and the status is `timeout`. */
  readonly timeoutMs: number;
  /** No progress (output other than reconnect chatter) for this long: killed, status `stalled`. */
  readonly stallMs?: number;
  /**
   * stdout+stderr cap; beyond it capture stops, the group is killed and `outputTruncated` is set.
   */
  readonly maxOutputBytes: number;
  /** Raw stdout/stderr lines land here (parent directories are created). */
  readonly transcriptPath: string;
  /**
   * Task variables (`LOOPWRIGHT_*` only; anything else is dropped) merged into the scrubbed env.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly options?: AgentRunOptions;
  /** Called once the child exists; if it throws, the group is killed and the run is an `error`. */
  readonly onSpawn?: (group: SpawnedGroup) => void | Promise<void>;
  /** Abort = kill the group now (graceful shutdown); the status is `killed`. */
  readonly signal?: AbortSignal;
  /** Run the agent inside the sandbox (src/agents/sandbox); absent or `none`: a plain group. */
  readonly sandbox?: SandboxSpec;
}

export interface AgentRunOptions {
  readonly maxTurns?: number;
  readonly maxBudgetUsd?: number;
  /** claude: a `--permission-mode` value; codex: a `--sandbox` value. */
  readonly permissionMode?: string;
  /** Replaces the program part of the argv (the provider still appends its own flags). */
  readonly command?: readonly string[];
}

/**
 * `unavailable`: never reached the model (no binary, refused credentials, no network);
 * `stalled`: no progress for the stall period. Both are the setup's fault, not the agent's.
 */
export type AgentStatus = 'ok' | 'error' | 'timeout' | 'killed' | 'unavailable' | 'stalled';

/** How a run ended. A provider never throws for a failed agent; it says so here. */
export interface AgentOutcome {
  readonly status: AgentStatus;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  readonly costUsd: number | null;
  /** All input tokens the model read, cache reads and writes included. */
  readonly tokensIn: number | null;
  readonly tokensOut: number | null;
  readonly sessionId?: string;
  readonly subtype?: string;
  readonly errorMessage?: string;
  readonly outputTruncated: boolean;
  /** The group that ran, if the child started at all. */
  readonly process?: SpawnedGroup;
}

/** A way to run an agent. `vendor` is what "a different vendor for the Validator" compares. */
export interface AgentProvider {
  readonly name: string;
  readonly vendor: string;
  run(inv: AgentInvocation): Promise<AgentOutcome>;
}
