/**
 * Pure tests of the RED pin (issue 7): RED_CONFIRMED records the RED commit, BUILD gate failures
 * TESTS_CHANGED and WORKSPACE_TAMPERED retry like any BUILD gate and escalate with their own
 * reason, and a tampered plan-drafting workspace escalates WORKSPACE_TAMPERED.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import {
  MACHINE_VERSION,
  ticketEventSchema,
  ticketMachine,
  type TicketEventInput,
} from './ticket.js';

type Snapshot = SnapshotFrom<typeof ticketMachine>;
const RUN = { runId: '0b6f3f5e-8c1d-4e6a-9f2b-3c4d5e6f7a80' } as const;
const RED_SHA = 'c0ffee'.padEnd(40, '0');

function drive(events: readonly TicketEventInput[], snapshot?: Snapshot): Snapshot {
  let s = snapshot ?? initialTransition(ticketMachine, { limits: { maxAttempts: 2 } })[0];
  for (const e of events) s = transition(ticketMachine, s, ticketEventSchema.parse(e))[0];
  return s;
}

const TO_RED: TicketEventInput[] = [
  { type: 'START' },
  { type: 'PLAN_READY', ...RUN, artifactId: 1 },
  { type: 'PLAN_REVIEWED', ...RUN, verdict: 'APPROVE' },
  { type: 'PLAN_FROZEN', ...RUN, artifactId: 1, sha256: 'ab'.repeat(32) },
];

describe('the RED pin', () => {
  it('starts with no RED commit and records the one RED_CONFIRMED carries', () => {
    // the pin came with ticket/5
    expect(Number(MACHINE_VERSION.split('/')[1])).toBeGreaterThanOrEqual(5);
    const red = drive(TO_RED);
    expect(red.value).toBe('RED');
    expect(red.context.redCommit).toBeNull();
    const build = drive([{ type: 'RED_CONFIRMED', ...RUN, commit: RED_SHA }], red);
    expect(build.value).toBe('BUILD');
    expect(build.context.redCommit).toBe(RED_SHA);
  });

  it('keeps a RED_CONFIRMED without a commit (journals from ticket/2) valid: no pin', () => {
    const build = drive([...TO_RED, { type: 'RED_CONFIRMED', ...RUN }]);
    expect(build.value).toBe('BUILD');
    expect(build.context.redCommit).toBeNull();
  });

  it('refuses a RED commit that is not a sha', () => {
    expect(
      ticketEventSchema.safeParse({ type: 'RED_CONFIRMED', ...RUN, commit: 'main' }).success,
    ).toBe(false);
  });

  it('retries BUILD on TESTS_CHANGED, then escalates TESTS_CHANGED with the detail', () => {
    const failed = {
      type: 'GATE_FAILED',
      ...RUN,
      reason: 'TESTS_CHANGED',
      detail: 'test/a.js: modified',
    } as const;
    const once = drive([...TO_RED, { type: 'RED_CONFIRMED', ...RUN, commit: RED_SHA }, failed]);
    expect(once.value).toBe('BUILD');
    expect(once.context.attempt).toBe(2);
    expect(once.context.findings).toEqual(['test/a.js: modified']);
    const twice = drive([failed], once);
    expect(twice.value).toBe('ESCALATED');
    expect(twice.context).toMatchObject({
      reason: 'TESTS_CHANGED',
      returnTo: 'BUILD',
      redCommit: RED_SHA,
    });
  });

  it('escalates WORKSPACE_TAMPERED from plan drafting', () => {
    const s = drive([
      { type: 'START' },
      {
        type: 'GATE_FAILED',
        ...RUN,
        reason: 'WORKSPACE_TAMPERED',
        detail: '.git/config was changed',
      },
    ]);
    expect(s.value).toBe('ESCALATED');
    expect(s.context).toMatchObject({ reason: 'WORKSPACE_TAMPERED', returnTo: 'PLAN_DRAFT' });
  });
});
