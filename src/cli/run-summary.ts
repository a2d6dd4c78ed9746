/**
 * How `loopwright run` ends: a closing summary — LIVE count, every ticket waiting for a person
 * with the exact command to act, dead letters and escalations with their reasons — whose exit
 * code is 0 only when nothing needs a person. (Progress meanwhile: src/worker/progress.ts.)
 */
import type { Kdb } from '../db/connection.js';
import { runSummaryRows, type WaitingTicket } from '../db/run-summary.js';
import type { CliIo } from './command.js';
import { printLine, truncate } from './output.js';

/** Exit codes of `run` (README "CLI"): people are needed, or a signal stopped it. */
export const RUN_EXIT = { NEEDS_PERSON: 4, SIGINT: 130, SIGTERM: 143 } as const;

export interface WaitingEntry extends WaitingTicket {
  /** The exact command that moves it on (after fixing what `detail` says). */
  readonly action: string;
}

export interface RunSummary {
  readonly live: number;
  readonly counts: Record<string, number>;
  readonly waiting: readonly WaitingEntry[];
  readonly needsPerson: boolean;
}

/** Gather the summary from the database. */
export async function loadRunSummary(db: Kdb): Promise<RunSummary> {
  const rows = await runSummaryRows(db);
  const waiting = rows.waiting.map((t) => ({ ...t, action: actionFor(t) }));
  return {
    live: rows.counts.LIVE ?? 0,
    counts: rows.counts,
    waiting,
    needsPerson: waiting.length > 0,
  };
}

/** What a person runs for a waiting ticket. */
export function actionFor(t: WaitingTicket): string {
  if (t.state === 'SHIP' && t.substate === 'awaiting_approval')
    return `loopwright approve ${t.key}   (or: loopwright reject ${t.key})`;
  if (t.state === 'SHIP' && t.substate === 'waiting_checkout')
    return `commit or stash the changes in the ${t.repo} checkout; the merge resumes by itself`;
  if (t.state === 'SHIP') return `merge or close the pull request of ${t.key}`;
  if (t.reason === 'AGENT_UNAVAILABLE' || t.reason === 'AGENT_STALLED')
    return `fix the agent setup (loopwright doctor), then loopwright retry ${t.key}`;
  if (['RED_NOT_RED', 'ATTEMPTS_EXHAUSTED', 'LIVE_CHECK_FAILED'].includes(t.reason ?? ''))
    return (
      `loopwright retry ${t.key} --reason "..."   (or vouch for it: loopwright ` +
      `approve ${t.key})`
    );
  return `loopwright retry ${t.key} --reason "..."   (or: loopwright cancel ${t.key})`;
}

/** The summary for people. */
export function printRunSummary(io: CliIo, summary: RunSummary): void {
  const others = Object.entries(summary.counts)
    .filter(([state]) => state !== 'LIVE')
    .map(([state, n]) => `${n} ${state}`);
  printLine(io, `summary: ${summary.live} LIVE${others.length ? `, ${others.join(', ')}` : ''}`);
  if (!summary.needsPerson) {
    printLine(io, 'nothing waits for a person');
    return;
  }
  printLine(io, `${summary.waiting.length} ticket(s) wait for a person:`);
  for (const t of summary.waiting) {
    const where = t.substate ? `${t.state}.${t.substate}` : t.state;
    printLine(io, `  ${t.key}  ${where}${t.reason ? `  ${t.reason}` : ''}`);
    if (t.detail) printLine(io, `    why: ${truncate(t.detail, 300)}`);
    printLine(io, `    do:  ${t.action}`);
  }
}
