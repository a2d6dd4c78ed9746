/**
 * Turning "how the process group ended" plus "what the agent's output said" into one
 * {@link AgentOutcome}. The process facts win: a run that timed out is a timeout even if it printed
 * a success line first, and a success line without exit code 0 is not a success.
 */
import type { AgentOutcome } from './provider.js';
import type { GroupResult } from './spawn-group.js';
import { missingBinaryReason, unavailableReason } from './unavailable.js';

/** What a provider's output parser learned from stdout: the outcome's usage fields, and whether
 * the agent's own protocol reported success (claude: a result line with is_error false). */
export type ParsedRun = Pick<
  AgentOutcome,
  'costUsd' | 'tokensIn' | 'tokensOut' | 'sessionId' | 'subtype' | 'errorMessage'
> & {
  readonly reportedSuccess: boolean;
};

export const EMPTY_PARSE: ParsedRun = {
  reportedSuccess: false,
  costUsd: null,
  tokensIn: null,
  tokensOut: null,
};

export function settleOutcome(group: GroupResult, parsed: ParsedRun): AgentOutcome {
  const status = statusOf(group, parsed);
  const errorMessage = status === 'ok' ? undefined : errorMessageOf(group, parsed);
  return {
    status,
    exitCode: group.exitCode,
    signal: group.signal,
    durationMs: group.durationMs,
    costUsd: parsed.costUsd,
    tokensIn: parsed.tokensIn,
    tokensOut: parsed.tokensOut,
    outputTruncated: group.outputTruncated,
    ...(parsed.sessionId ? { sessionId: parsed.sessionId } : {}),
    ...(parsed.subtype ? { subtype: parsed.subtype } : {}),
    ...(errorMessage ? { errorMessage } : {}),
    ...(group.group ? { process: group.group } : {}),
  };
}

function statusOf(group: GroupResult, parsed: ParsedRun): AgentOutcome['status'] {
  switch (group.ending) {
    case 'timeout':
      return 'timeout';
    case 'aborted':
      return 'killed';
    case 'stalled':
      return 'stalled';
    case 'unavailable':
      return 'unavailable';
    case 'spawn-failed':
      return missingBinaryReason(group.failure) ? 'unavailable' : 'error';
    case 'exit':
      if (parsed.reportedSuccess && group.exitCode === 0) return 'ok';
      return neverReachedModel(group, parsed) ? 'unavailable' : 'error';
    default:
      return 'error';
  }
}

/** A failed run that produced no model output and whose error text names credentials or network. */
function neverReachedModel(group: GroupResult, parsed: ParsedRun): boolean {
  if (parsed.tokensOut !== null && parsed.tokensOut > 0) return false;
  return unavailableReason(parsed.errorMessage ?? group.stderrTail) !== null;
}

function errorMessageOf(group: GroupResult, parsed: ParsedRun): string {
  switch (group.ending) {
    case 'timeout':
      return 'agent timed out; process group killed';
    case 'aborted':
      return 'agent run aborted; process group killed';
    case 'truncated':
      return 'agent output exceeded maxOutputBytes; process group killed';
    case 'spawn-failed':
    case 'on-spawn-failed':
      return group.failure ?? 'agent could not be started';
    case 'stalled':
      return group.failure ?? 'agent made no progress; process group killed';
    case 'unavailable':
      return group.failure ?? 'agent cannot reach its model; process group killed';
    case 'exit':
      break;
  }
  if (parsed.errorMessage) return parsed.errorMessage;
  const how = group.signal ? `was killed by ${group.signal}` : `exited with code ${group.exitCode}`;
  const tail = group.stderrTail.trim().split('\n').slice(-5).join('\n');
  const protocol = parsed.reportedSuccess ? '' : ' without a success report';
  return `agent ${how}${protocol}${tail ? `: ${tail}` : ''}`;
}
