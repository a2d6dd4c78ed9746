/**
 * The AGENT_UNAVAILABLE event for a run that never did its work: which role, which provider, the
 * fix in one sentence, and the evidence the agent printed. The fix sentences are shared with
 * preflight and `loopwright doctor` (./preflight.ts), so the escalation and the doctor say the
 * same.
 */
import type { Role, TicketEventInput } from '../../machines/ticket.js';
import type { AgentChoice } from '../config/repo-settings.js';
import { credentialFix, installFix } from './preflight.js';
import type { AgentOutcome } from './provider.js';

export interface UnavailableFacts {
  readonly role: Role;
  readonly choice: AgentChoice;
  readonly runId: string;
  readonly costUsd: number;
  readonly stallSeconds: number;
}

/**
 * The event for an `unavailable` or `stalled` outcome; null for every other outcome.
 *
 * @example
 * ```ts
 * const facts = { role: 'generator', choice: { provider: 'claude' }, runId, costUsd: 0 };
 * unavailableEvent(outcome, { ...facts, stallSeconds: 120 });
 * // { type: 'AGENT_UNAVAILABLE', reason: 'AGENT_UNAVAILABLE',
 * //   detail: 'generator uses claude: set ANTHROPIC_API_KEY or run `claude login`
 * //            (agent said: Not logged in · Please run /login)', ... }
 * ```
 */
export function unavailableEvent(
  outcome: AgentOutcome,
  facts: UnavailableFacts,
): TicketEventInput | null {
  if (outcome.status !== 'unavailable' && outcome.status !== 'stalled') return null;
  const model = facts.choice.model ? ` (${facts.choice.model})` : '';
  const who = `${facts.role} uses ${facts.choice.provider}${model}`;
  const evidence = outcome.errorMessage ?? 'no output';
  const detail =
    outcome.status === 'stalled'
      ? `${who}: no progress for ${facts.stallSeconds}s (only silence or reconnect ` +
        `messages), so it was stopped; check the model API is reachable (network, base URL) ` +
        `or raise agentStallSeconds (loopwright repo set NAME --set agentStallSeconds=N)`
      : `${who}: ${fixFor(facts.choice, evidence)} (agent said: ${evidence})`;
  return {
    type: 'AGENT_UNAVAILABLE',
    runId: facts.runId,
    costUsd: facts.costUsd,
    reason: outcome.status === 'stalled' ? 'AGENT_STALLED' : 'AGENT_UNAVAILABLE',
    detail: detail.slice(0, 8000),
  };
}

function fixFor(choice: AgentChoice, evidence: string): string {
  if (/cannot start|ENOENT|EACCES/i.test(evidence)) return installFix(choice);
  if (
    /waiting for network|reach|ECONNREFUSED|ENOTFOUND|resolve|connection/i.test(evidence) &&
    !/\b40[13]\b|unauthori[sz]ed|api key|log ?in/i.test(evidence)
  )
    return (
      'the model API cannot be reached: check network access (or the base URL in the ' +
      'agent env), then loopwright retry'
    );
  return credentialFix(choice);
}
