/**
 * Structured shapes the tools return, in the CLI's JSON conventions (camelCase, ISO times), built
 * from the same queries the CLI uses. Nothing here carries a database URL, an environment or an
 * absolute path: transcripts are named relative to LOOPWRIGHT_HOME.
 */
import path from 'node:path';
import type { TicketView } from '../cli/ticket-view.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** `show_ticket`'s answer without the plan (see tools/read-tools.ts). */
export function ticketViewJson(view: TicketView, home: string, transcripts: Map<string, string>) {
  const t = view.ticket;
  return {
    ticket: {
      key: t.key,
      repo: t.repo,
      batch: t.batch,
      title: t.title,
      body: t.body,
      state: t.state,
      substate: t.substate,
      version: t.version,
      machineVersion: t.machine_version,
      priority: t.priority,
      tags: t.tags,
      attempt: t.attempt,
      round: t.round,
      reason: t.reason,
      detail: t.detail,
      costUsd: t.cost_usd,
      currentRunId: t.current_run_id,
      createdAt: iso(t.created_at),
      stateChangedAt: iso(t.state_changed_at),
    },
    dependencies: view.dependencies.map((d) => ({ key: d.key, state: d.state })),
    dependents: view.dependents.map((d) => ({ key: d.key, state: d.state })),
    timeline: view.timeline.map(timelineJson),
    runs: view.runs.map((r) => ({
      id: r.id,
      role: r.role,
      phase: r.phase,
      attempt: r.attempt,
      round: r.round,
      status: r.status,
      startedAt: iso(r.started_at),
      finishedAt: iso(r.finished_at),
      durationMs: r.duration_ms,
      costUsd: r.cost_usd,
      error: r.error,
      transcript: relativeToHome(transcripts.get(r.id) ?? null, home),
    })),
    gates: view.gates.map((g) => ({
      at: iso(g.at),
      gate: g.gate,
      command: g.command,
      passed: g.passed,
      exitCode: g.exit_code,
      durationMs: g.duration_ms,
      runId: g.run_id,
      artifactId: g.artifact_id,
    })),
    rejected: view.rejected.map((r) => ({
      at: iso(r.at),
      event: r.event,
      state: r.state,
      version: r.version,
      actor: r.actor,
      reason: r.reason,
    })),
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
    return 'read show_ticket and logs, then approve (past the gate), retry (back to work) or reject';
  if (state === 'DEAD_LETTER') return 'read show_ticket and logs, then retry or cancel';
  if (state === 'SHIP' && substate === 'awaiting_approval')
    return 'approve to merge, or reject to cancel';
  return null;
}
