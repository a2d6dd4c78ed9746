/**
 * Pure tests of the GitHub SHIP path (SHIP.publishing / awaiting_review / awaiting_merge /
 * pr_merging): xstate `transition` only, events through `ticketEventSchema` as at the boundary.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import {
  ticketEventSchema,
  ticketMachine,
  type TicketEventInput,
  type TicketInput,
} from './ticket.js';

type Snapshot = SnapshotFrom<typeof ticketMachine>;
const RUN = { runId: '0b6f3f5e-8c1d-4e6a-9f2b-3c4d5e6f7a80' } as const;

function drive(events: readonly TicketEventInput[], input: TicketInput) {
  let [snapshot, actions] = initialTransition(ticketMachine, input);
  for (const event of events)
    [snapshot, actions] = transition(ticketMachine, snapshot, ticketEventSchema.parse(event));
  return { snapshot: snapshot as Snapshot, actions: actions.map((a) => a.type) };
}

const TO_SHIP: TicketEventInput[] = [
  { type: 'START' },
  { type: 'PLAN_READY', ...RUN, artifactId: 1 },
  { type: 'PLAN_REVIEWED', ...RUN, verdict: 'APPROVE' },
  { type: 'PLAN_FROZEN', ...RUN, artifactId: 2, sha256: 'ab'.repeat(32) },
  { type: 'RED_CONFIRMED', ...RUN },
  { type: 'BUILD_READY', ...RUN },
  { type: 'VERDICT', ...RUN, verdict: 'PASS' },
];
const OPENED: TicketEventInput = { type: 'PR_OPENED', ...RUN, number: 3, url: 'http://x/pull/3' };
const APPROVED: TicketEventInput = { type: 'PR_APPROVED', reviewId: 11 };
const GITHUB: TicketInput = { shipVia: 'github' };

describe('GitHub SHIP path', () => {
  it('publishes the PR instead of merging locally, then waits with no work', () => {
    const publishing = drive(TO_SHIP, GITHUB);
    expect(publishing.snapshot.value).toEqual({ SHIP: 'publishing' });
    expect(publishing.actions).toContain('publishPr');
    expect(publishing.actions).not.toContain('mergeBranch');
    const waiting = drive([...TO_SHIP, OPENED], GITHUB);
    expect(waiting.snapshot.value).toEqual({ SHIP: 'awaiting_review' });
    expect(waiting.actions).toEqual([]);
    expect(waiting.snapshot.context.pr).toEqual({ number: 3, url: 'http://x/pull/3' });
  });

  it('keeps local shipping (and the old context shape) without shipVia', () => {
    const local = drive(TO_SHIP, {});
    expect(local.snapshot.value).toEqual({ SHIP: 'merging' });
    expect('shipVia' in local.snapshot.context).toBe(false);
    expect('pr' in local.snapshot.context).toBe(false);
  });

  it('dark: an approval merges through the API; copilot: waits for a human merge', () => {
    const dark = drive([...TO_SHIP, OPENED, APPROVED], GITHUB);
    expect(dark.snapshot.value).toEqual({ SHIP: 'pr_merging' });
    expect(dark.actions).toEqual(['mergePr']);
    const copilot = drive([...TO_SHIP, OPENED, APPROVED], { ...GITHUB, mode: 'copilot' });
    expect(copilot.snapshot.value).toEqual({ SHIP: 'awaiting_merge' });
    expect(copilot.actions).toEqual([]);
    const human = drive([...TO_SHIP, OPENED, APPROVED, { type: 'PR_MERGED', commit: 'abcdef1' }], {
      ...GITHUB,
      mode: 'copilot',
    });
    expect(human.snapshot.value).toEqual({ SHIP: 'verifying' });
    expect(human.snapshot.context.mergeCommit).toBe('abcdef1');
  });

  it("requested changes become a fresh BUILD's findings, then VALIDATE, then the same PR", () => {
    const findings = ['src/a.ts:3: handle the empty case (reviewer)'];
    const rebuilt = drive(
      [...TO_SHIP, OPENED, { type: 'PR_CHANGES_REQUESTED', reviewId: 12, findings }],
      GITHUB,
    );
    expect(rebuilt.snapshot.value).toBe('BUILD');
    expect(rebuilt.snapshot.context).toMatchObject({ findings, attempt: 2 });
    expect(rebuilt.actions).toEqual(['dispatchAgent']);
    const again = drive(
      [
        ...TO_SHIP,
        OPENED,
        { type: 'PR_CHANGES_REQUESTED', reviewId: 12, findings },
        { type: 'BUILD_READY', ...RUN },
        { type: 'VERDICT', ...RUN, verdict: 'PASS' },
      ],
      GITHUB,
    );
    expect(again.snapshot.value).toEqual({ SHIP: 'publishing' });
    expect(again.snapshot.context.pr?.number).toBe(3);
  });

  it('review feedback with no attempt left escalates ATTEMPTS_EXHAUSTED with the findings', () => {
    const findings = ['a.ts:1: still wrong'];
    const out = drive(
      [...TO_SHIP, OPENED, { type: 'PR_CHANGES_REQUESTED', reviewId: 9, findings }],
      {
        ...GITHUB,
        limits: { maxAttempts: 1 },
      },
    );
    expect(out.snapshot.value).toBe('ESCALATED');
    expect(out.snapshot.context).toMatchObject({ reason: 'ATTEMPTS_EXHAUSTED', findings });
  });

  it('failed required checks rebuild with their findings; a conflict escalates', () => {
    const checks = drive(
      [...TO_SHIP, OPENED, APPROVED, { type: 'PR_CHECKS_FAILED', ...RUN, findings: ['ci: red'] }],
      GITHUB,
    );
    expect(checks.snapshot.value).toBe('BUILD');
    expect(checks.snapshot.context.findings).toEqual(['ci: red']);
    const conflict = drive(
      [...TO_SHIP, OPENED, APPROVED, { type: 'MERGE_CONFLICT', ...RUN, detail: 'dirty' }],
      GITHUB,
    );
    expect(conflict.snapshot.context).toMatchObject({ reason: 'MERGE_CONFLICT', returnTo: 'SHIP' });
  });

  it('a PR closed unmerged escalates with PR_CLOSED; RETRY publishes again', () => {
    const closed = drive(
      [...TO_SHIP, OPENED, { type: 'PR_CLOSED', detail: 'closed by bob' }],
      GITHUB,
    );
    expect(closed.snapshot.value).toBe('ESCALATED');
    expect(closed.snapshot.context).toMatchObject({ reason: 'PR_CLOSED', detail: 'closed by bob' });
    const retried = drive([...TO_SHIP, OPENED, { type: 'PR_CLOSED' }, { type: 'RETRY' }], GITHUB);
    expect(retried.snapshot.value).toEqual({ SHIP: 'publishing' });
  });

  it('an operator APPROVE while waiting merges through the API', () => {
    const merged = drive([...TO_SHIP, OPENED, { type: 'APPROVE' }], GITHUB);
    expect(merged.snapshot.value).toEqual({ SHIP: 'pr_merging' });
  });

  it('refuses review events outside the wait', () => {
    const building = drive(TO_SHIP.slice(0, 5), GITHUB).snapshot;
    expect(building.can(ticketEventSchema.parse(APPROVED))).toBe(false);
    expect(building.can(ticketEventSchema.parse({ type: 'PR_MERGED', commit: 'abcdef1' }))).toBe(
      false,
    );
  });
});
