import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { ticketEventSchema, ticketMachine, type TicketEventInput } from '../../machines/ticket.js';
import { persistSnapshot, restoreSnapshot, transitionTicket } from './snapshot.js';

const RUN = '0b6f3f5e-8c1d-4e6a-9f2b-3c4d5e6f7a80';
const SHA = 'ab'.repeat(32);

/** A walk through most of the machine: rounds, a failed verdict, an escalation, a retry. */
const WALK: TicketEventInput[] = [
  { type: 'START' },
  { type: 'PLAN_READY', runId: RUN, artifactId: 1 },
  { type: 'PLAN_REVIEWED', runId: RUN, verdict: 'REVISE' },
  { type: 'PLAN_READY', runId: RUN, artifactId: 2 },
  { type: 'PLAN_REVIEWED', runId: RUN, verdict: 'APPROVE' },
  { type: 'PLAN_FROZEN', runId: RUN, artifactId: 2, sha256: SHA },
  { type: 'RED_CONFIRMED', runId: RUN },
  { type: 'BUILD_READY', runId: RUN },
  { type: 'VERDICT', runId: RUN, verdict: 'FAIL', findings: ['again'] },
  { type: 'BUILD_READY', runId: RUN },
  { type: 'START' },
  { type: 'VERDICT', runId: RUN, verdict: 'PASS' },
  { type: 'MERGED', runId: RUN, commit: 'd'.repeat(40) },
  { type: 'LIVE_CHECK_PASSED', runId: RUN, evidence: 'ok' },
];

const plain = (actions: readonly { type: string; params?: unknown }[]) =>
  actions.map(({ type, params }) => ({ type, params }));

describe('transitionTicket', () => {
  it("matches xstate's transition's snapshot and actions at every step, from stored rows", () => {
    let [snapshot] = initialTransition(ticketMachine, { mode: 'dark' });
    for (const input of WALK) {
      const event = ticketEventSchema.parse(input);
      const stored = restoreSnapshot(persistSnapshot(snapshot));
      const [ours, ourActions] = transitionTicket(stored, event);
      const [theirs, theirActions] = transition(ticketMachine, stored, event);
      expect(persistSnapshot(ours)).toEqual(persistSnapshot(theirs));
      expect(plain(ourActions)).toEqual(plain(theirActions));
      snapshot = theirs;
    }
    expect(snapshot.value).toBe('LIVE');
  });

  it('collects each call its own actions', () => {
    const [start] = initialTransition(ticketMachine, {});
    const [, first] = transitionTicket(start, { type: 'START' });
    const [, refused] = transitionTicket(start, ticketEventSchema.parse({ type: 'UNBLOCK' }));
    expect(first.map((a) => a.type)).toContain('dispatchAgent');
    expect(refused).toEqual([]);
    expect(first.map((a) => a.type)).toContain('dispatchAgent');
  });
});
