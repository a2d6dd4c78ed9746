/**
 * Structured shapes the tools return, in the CLI's JSON conventions (camelCase, ISO times), built
 * from the same queries the CLI uses. Nothing here carries a database URL, an environment or an
 * absolute path: transcripts are named relative to LOOPWRIGHT_HOME.
 */
import path from 'node:path';
import { toContract } from '../cli/json-contract.js';
import type { TicketView } from '../cli/ticket-view.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * `show_ticket`'s answer without the plan: the CLI's `show --json` view through the same JSON
 * contract, each run with its transcript path relative to the home.
 */
export function ticketViewJson(view: TicketView, home: string, transcripts: Map<string, string>) {
  const json = toContract(view) as Record<string, unknown>;
  return {
    ...json,
    runs: view.runs.map((r) => ({
      ...(toContract(r) as Record<string, unknown>),
      transcript: relativeToHome(transcripts.get(r.id) ?? null, home),
    })),
  } as ReturnType<typeof contractView>;
}

/** The typed shape `toContract` gives a view (the fields the tools read). */
function contractView() {
  return {} as {
    ticket: {
      key: string;
      title: string;
      state: string;
      substate: string | null;
      reason: string | null;
      detail: string | null;
    };
    dependencies: { key: string; state: string }[];
    timeline: ReturnType<typeof timelineJson>[];
    runs: { id: string; role: string; phase: string; status: string; transcript: string | null }[];
  };
}

export function timelineJson(e: TicketView['timeline'][number]) {
  return {
    seq: e.seq,
    at: iso(e.at),
    event: e.event,
    fromState: e.from_state,
    toState: e.to_state,
    actor: e.actor,
    reason: e.reason,
    detail: e.detail,
  };
}

/**
 * A path under `home` as a relative path, or null when it is missing or lies outside the home
 * (a path outside the factory's data is never shown).
 */
export function relativeToHome(file: string | null, home: string): string | null {
  if (!file) return null;
  const rel = path.relative(home, file);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}

/** What a person should do about a ticket that waits for one, as the MCP tool to call. */
export function suggestedAction(state: string, substate: string | null): string | null {
  if (state === 'ESCALATED')
    return (
      'read show_ticket and logs, then approve (past the gate), ' + 'retry (back to work) or reject'
    );
  if (state === 'DEAD_LETTER') return 'read show_ticket and logs, then retry or cancel';
  if (state === 'SHIP' && substate === 'awaiting_approval')
    return 'approve to merge, or reject to cancel';
  return null;
}
