/**
 * Pure tests of the ticket machine (DESIGN.md section 2), in the style of xstate's own
 * `test/transition.test.ts`: every step is `transition(machine, snapshot, event)`, so there are no
 * actors, timers or database. Events go through `ticketEventSchema` first, exactly as at the
 * engine's boundary, so defaults (costUsd, findings) are applied the way production applies them.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import {
  ticketEventSchema,
  ticketMachine,
  type GATE_REASONS,
  type TicketContext,
} from './ticket.js';
import type { TicketEventInput, TicketEventType, TicketInput } from './ticket.js';

type Snapshot = SnapshotFrom<typeof ticketMachine>;
interface WorkAction {
  readonly type: string;
  readonly params?: unknown;
}
interface Step {
  readonly snapshot: Snapshot;
  readonly actions: readonly WorkAction[];
}

const RUN_ID = '0b6f3f5e-8c1d-4e6a-9f2b-3c4d5e6f7a80';
const SHA256 = 'ab'.repeat(32);

const simplify = (actions: readonly { type: string; params?: unknown }[]): WorkAction[] =>
  actions.map(({ type, params }) => (params === undefined ? { type } : { type, params }));

function begin(input: TicketInput = {}): Step {
  const [snapshot, actions] = initialTransition(ticketMachine, input);
  return { snapshot, actions: simplify(actions) };
}

function step(snapshot: Snapshot, event: TicketEventInput): Step {
  const [next, actions] = transition(ticketMachine, snapshot, ticketEventSchema.parse(event));
  return { snapshot: next, actions: simplify(actions) };
}

/**
 * Runs `events` from a fresh ticket; returns the final snapshot and the actions of the last step.
 */
function drive(events: readonly TicketEventInput[], input: TicketInput = {}): Step {
  return events.reduce((prev, event) => step(prev.snapshot, event), begin(input));
}

/** The part of a step most tests pin: where the ticket is and what work that implies. */
const outcome = ({ snapshot, actions }: Step) => ({ value: snapshot.value, actions });
const accepts = (snapshot: Snapshot, event: TicketEventInput) =>
  snapshot.can(ticketEventSchema.parse(event));
const dispatch = (role: string, phase: string): WorkAction => ({
  type: 'dispatchAgent',
  params: { role, phase },
});
const work = (...types: string[]): WorkAction[] => types.map((type) => ({ type }));
const ARM: WorkAction = { type: 'armBudgetTimer' };

// Events, one builder per type.
const run = { runId: RUN_ID } as const;
const START: TicketEventInput = { type: 'START' };
const planReady = (costUsd = 0, artifactId = 7): TicketEventInput => ({
  type: 'PLAN_READY',
  ...run,
  artifactId,
  costUsd,
});
const reviewed = (verdict: 'APPROVE' | 'REVISE', costUsd = 0): TicketEventInput => ({
  type: 'PLAN_REVIEWED',
  ...run,
  verdict,
  costUsd,
});
const FROZEN: TicketEventInput = { type: 'PLAN_FROZEN', ...run, artifactId: 7, sha256: SHA256 };
const RED_CONFIRMED: TicketEventInput = { type: 'RED_CONFIRMED', ...run };
const buildReady = (costUsd = 0): TicketEventInput => ({ type: 'BUILD_READY', ...run, costUsd });
const verdict = (v: 'PASS' | 'FAIL', findings: string[] = []): TicketEventInput => ({
  type: 'VERDICT',
  ...run,
  verdict: v,
  findings,
});
const gate = (
  reason: (typeof GATE_REASONS)[number],
  detail = `${reason} detail`,
): TicketEventInput => ({ type: 'GATE_FAILED', ...run, reason, detail });
const INVALID: TicketEventInput = {
  type: 'REPORT_INVALID',
  ...run,
  errors: ['report.json: evidence is required'],
};
const TIMEOUT: TicketEventInput = { type: 'AGENT_TIMEOUT', ...run };
const UNAVAILABLE_DETAIL = 'generator uses claude: set ANTHROPIC_API_KEY or run `claude login`';
const unavailable = (
  reason: 'AGENT_UNAVAILABLE' | 'AGENT_STALLED' = 'AGENT_UNAVAILABLE',
  costUsd = 0,
): TicketEventInput => ({
  type: 'AGENT_UNAVAILABLE',
  ...run,
  costUsd,
  reason,
  detail: UNAVAILABLE_DETAIL,
});
const JOB_DETAIL = "agent_run failed 3 times: fatal: not a git repository: '/nonexistent'";
const jobFailed = (
  reason: 'WORKSPACE_BROKEN' | 'JOB_FAILED' = 'WORKSPACE_BROKEN',
): TicketEventInput => ({ type: 'JOB_FAILED', ...run, reason, detail: JOB_DETAIL });
const MERGED: TicketEventInput = { type: 'MERGED', ...run, commit: 'abc1234' };
const CONFLICT: TicketEventInput = {
  type: 'MERGE_CONFLICT',
  ...run,
  detail: 'conflict in src/a.ts',
};
const MERGE_CHECK_FAILED: TicketEventInput = {
  type: 'MERGE_CHECK_FAILED',
  ...run,
  commit: 'def5678',
  detail: 'test command `npm test` failed (exit 1) on the merge commit',
};
const DIRTY: TicketEventInput = {
  type: 'CHECKOUT_DIRTY',
  ...run,
  path: '/home/ada/src/app',
  detail: 'commit or stash in /home/ada/src/app, or switch it off main',
};
const LIVE_OK: TicketEventInput = {
  type: 'LIVE_CHECK_PASSED',
  ...run,
  evidence: 'GET /health 200',
};
const LIVE_FAILED: TicketEventInput = {
  type: 'LIVE_CHECK_FAILED',
  ...run,
  detail: 'GET /health 500',
};
const timeUp = (timer: number): TicketEventInput => ({
  type: 'BUDGET_EXCEEDED',
  kind: 'time',
  timer,
});
const VERIFIER_DETAIL = 'validator charter sha changed';
const VERIFIER: TicketEventInput = { type: 'VERIFIER_CHANGED', detail: VERIFIER_DETAIL };
const BLOCK: TicketEventInput = { type: 'BLOCK', blockers: ['T-42'] };
const UNBLOCK: TicketEventInput = { type: 'UNBLOCK' };
const APPROVE: TicketEventInput = { type: 'APPROVE' };
const RETRY: TicketEventInput = { type: 'RETRY' };
const REJECT: TicketEventInput = { type: 'REJECT', reason: 'not wanted' };
const CANCEL: TicketEventInput = { type: 'CANCEL', reason: 'duplicate' };
const NOTE: TicketEventInput = { type: 'NOTE', text: 'looked at it' };
const REPLAY: TicketEventInput = { type: 'REPLAY' };

const PR_OPENED_EV: TicketEventInput = {
  type: 'PR_OPENED',
  ...run,
  number: 5,
  url: 'https://github.test/o/r/pull/5',
};
const GITHUB: TicketInput = { shipVia: 'github' };
const PR_WAIT = ['APPROVE', 'PR_APPROVED', 'PR_CHANGES_REQUESTED', 'PR_CLOSED', 'PR_MERGED'];

// Journals that reach each state on the happy path (dark mode).
const TO_PLAN_DRAFT = [START];
const TO_CRITIQUE = [...TO_PLAN_DRAFT, planReady()];
const TO_REVISE = [...TO_CRITIQUE, reviewed('REVISE')];
const TO_PLAN_APPROVED = [...TO_CRITIQUE, reviewed('APPROVE')];
const TO_RED = [...TO_PLAN_APPROVED, FROZEN];
const TO_BUILD = [...TO_RED, RED_CONFIRMED];
const TO_VALIDATE = [...TO_BUILD, buildReady()];
const TO_MERGING = [...TO_VALIDATE, verdict('PASS')];
const TO_WAITING = [...TO_MERGING, DIRTY];
const TO_VERIFYING = [...TO_MERGING, MERGED];
const TO_LIVE = [...TO_VERIFYING, LIVE_OK];
/** From critique: `n` REVISE verdicts, each answered by a revised plan. */
const revisions = (n: number) =>
  Array.from({ length: n }, () => [reviewed('REVISE'), planReady()]).flat();
/** From VALIDATE: `n` FAIL verdicts with a rebuild between each. */
const failedAttempts = (n: number) =>
  Array.from({ length: n }, () => [buildReady(), verdict('FAIL')])
    .flat()
    .slice(1);

interface WorkingState {
  readonly name: string;
  readonly path: readonly TicketEventInput[];
  readonly value: Snapshot['value'];
  readonly work: readonly WorkAction[];
}
const WORKING: readonly WorkingState[] = [
  {
    name: 'PLAN_DRAFT',
    path: TO_PLAN_DRAFT,
    value: 'PLAN_DRAFT',
    work: [dispatch('lead', 'plan_draft')],
  },
  {
    name: 'PLAN_NEGOTIATE.critique',
    path: TO_CRITIQUE,
    value: { PLAN_NEGOTIATE: 'critique' },
    work: [dispatch('validator', 'plan_critique')],
  },
  {
    name: 'PLAN_NEGOTIATE.revise',
    path: TO_REVISE,
    value: { PLAN_NEGOTIATE: 'revise' },
    work: [dispatch('lead', 'plan_revise')],
  },
  {
    name: 'PLAN_APPROVED',
    path: TO_PLAN_APPROVED,
    value: 'PLAN_APPROVED',
    work: work('freezePlan'),
  },
  { name: 'RED', path: TO_RED, value: 'RED', work: [dispatch('generator', 'red')] },
  { name: 'BUILD', path: TO_BUILD, value: 'BUILD', work: [dispatch('generator', 'build')] },
  {
    name: 'VALIDATE',
    path: TO_VALIDATE,
    value: 'VALIDATE',
    work: [dispatch('validator', 'validate')],
  },
  { name: 'SHIP.merging', path: TO_MERGING, value: { SHIP: 'merging' }, work: work('mergeBranch') },
  {
    name: 'SHIP.waiting_checkout',
    path: TO_WAITING,
    value: { SHIP: 'waiting_checkout' },
    work: work('mergeBranch'),
  },
  {
    name: 'SHIP.verifying',
    path: TO_VERIFYING,
    value: { SHIP: 'verifying' },
    work: work('runLiveCheck'),
  },
];
const AGENT_STATES = WORKING.filter((s) => s.work[0]?.type === 'dispatchAgent');
const topOf = (s: WorkingState) => s.name.split('.')[0];

describe('happy path', () => {
  it('starts QUEUED with zeroed counters and asks the scheduler for a slot', () => {
    const initial = begin();
    expect(outcome(initial)).toEqual({ value: 'QUEUED', actions: work('requestSchedule') });
    expect(initial.snapshot.context).toMatchObject({
      mode: 'dark',
      round: 0,
      attempt: 0,
      redAttempt: 0,
      timer: 0,
      costUsd: 0,
    });
    expect(initial.snapshot.context.limits).toEqual({
      maxPlanRounds: 5,
      maxAttempts: 3,
      maxRedAttempts: 2,
      maxContractRetries: 1,
      maxCostUsd: null,
      wallClockSeconds: null,
    });
  });

  it("walks QUEUED to LIVE returning each step's work and counting rounds and attempts", () => {
    const steps: [TicketEventInput, Snapshot['value'], WorkAction[], Partial<TicketContext>][] = [
      [START, 'PLAN_DRAFT', [ARM, dispatch('lead', 'plan_draft')], { round: 0, timer: 0 }],
      [
        planReady(),
        { PLAN_NEGOTIATE: 'critique' },
        [dispatch('validator', 'plan_critique')],
        { round: 1, planArtifactId: 7 },
      ],
      [reviewed('APPROVE'), 'PLAN_APPROVED', work('freezePlan'), { round: 1 }],
      [
        FROZEN,
        'RED',
        [dispatch('generator', 'red')],
        { redAttempt: 1, approvedPlan: { artifactId: 7, sha256: SHA256 } },
      ],
      [RED_CONFIRMED, 'BUILD', [dispatch('generator', 'build')], { attempt: 1, findings: [] }],
      [buildReady(), 'VALIDATE', [dispatch('validator', 'validate')], { attempt: 1 }],
      [verdict('PASS'), { SHIP: 'merging' }, work('mergeBranch'), { mergeCommit: null }],
      [MERGED, { SHIP: 'verifying' }, work('runLiveCheck'), { mergeCommit: 'abc1234' }],
      [
        LIVE_OK,
        'LIVE',
        work('notifyDependents', 'releaseWorkspace'),
        { liveEvidence: 'GET /health 200' },
      ],
    ];
    let current = begin().snapshot;
    for (const [event, value, actions, context] of steps) {
      const next = step(current, event);
      expect({ event: event.type, value: next.snapshot.value, actions: next.actions }).toEqual({
        event: event.type,
        value,
        actions,
      });
      expect(next.snapshot.context).toMatchObject(context);
      current = next.snapshot;
    }
    expect(current.context).toMatchObject({
      round: 1,
      redAttempt: 1,
      attempt: 1,
      humanGated: false,
      reason: null,
      contractFailures: 0,
    });
  });
});

describe('plan negotiation', () => {
  it('sends a REVISE verdict to the lead and critiques the revised plan in the next round', () => {
    const revise = drive(TO_REVISE);
    expect(outcome(revise)).toEqual({
      value: { PLAN_NEGOTIATE: 'revise' },
      actions: [dispatch('lead', 'plan_revise')],
    });
    expect(revise.snapshot.context.round).toBe(1);

    const critique = step(revise.snapshot, planReady(0, 8));
    expect(outcome(critique)).toEqual({
      value: { PLAN_NEGOTIATE: 'critique' },
      actions: [dispatch('validator', 'plan_critique')],
    });
    expect(critique.snapshot.context).toMatchObject({ round: 2, planArtifactId: 8 });
  });

  it('escalates PLAN_ROUNDS_EXHAUSTED on the fifth REVISE so round 6 never starts', () => {
    const fifth = drive([...TO_CRITIQUE, ...revisions(4)]);
    expect(fifth.snapshot.context.round).toBe(5);
    const next = step(fifth.snapshot, reviewed('REVISE'));
    expect(outcome(next)).toEqual({ value: 'ESCALATED', actions: [] });
    expect(next.snapshot.context).toMatchObject({
      reason: 'PLAN_ROUNDS_EXHAUSTED',
      returnTo: 'PLAN_NEGOTIATE',
      round: 5,
    });
  });

  it('honours a custom maxPlanRounds from input.limits', () => {
    const input = { limits: { maxPlanRounds: 2 } };
    expect(drive([...TO_CRITIQUE, ...revisions(1)], input).snapshot.context.round).toBe(2);
    const { snapshot } = drive([...TO_CRITIQUE, ...revisions(1), reviewed('REVISE')], input);
    expect(snapshot.value).toBe('ESCALATED');
    expect(snapshot.context).toMatchObject({ reason: 'PLAN_ROUNDS_EXHAUSTED', round: 2 });
  });

  it.each([
    ['PLAN_DRAFT', TO_PLAN_DRAFT, 'PLAN_DRAFT'],
    ['a plan revision', TO_REVISE, 'PLAN_NEGOTIATE'],
  ] as const)(
    'escalates LEAD_ENCROACHMENT when the lead touches code in %s',
    (_, path, returnTo) => {
      const { snapshot } = drive([...path, gate('LEAD_ENCROACHMENT', 'changed src/a.ts')]);
      expect(snapshot.value).toBe('ESCALATED');
      expect(snapshot.context).toMatchObject({
        reason: 'LEAD_ENCROACHMENT',
        returnTo,
        detail: 'changed src/a.ts',
      });
    },
  );
});

describe('RED', () => {
  it.each(['RED_NOT_RED', 'SCOPE_VIOLATION'] as const)(
    'retries %s once with a fresh generator, then escalates with it',
    (reason) => {
      const retried = drive([...TO_RED, gate(reason)]);
      expect(outcome(retried)).toEqual({ value: 'RED', actions: [dispatch('generator', 'red')] });
      expect(retried.snapshot.context.redAttempt).toBe(2);

      const next = step(retried.snapshot, gate(reason, 'tests passed before the change'));
      expect(outcome(next)).toEqual({ value: 'ESCALATED', actions: [] });
      expect(next.snapshot.context).toMatchObject({
        reason,
        returnTo: 'RED',
        detail: 'tests passed before the change',
        redAttempt: 2,
      });
    },
  );
});

describe('BUILD and VALIDATE', () => {
  it('retries a scope violation as the next attempt with findings, then escalates it', () => {
    const second = drive([...TO_BUILD, gate('SCOPE_VIOLATION', 'touched docs/x.md')]);
    expect(outcome(second)).toEqual({
      value: 'BUILD',
      actions: [dispatch('generator', 'build')],
    });
    expect(second.snapshot.context).toMatchObject({
      attempt: 2,
      findings: ['touched docs/x.md'],
    });

    const third = step(second.snapshot, gate('SCOPE_VIOLATION'));
    expect(third.snapshot.context.attempt).toBe(3);
    const { snapshot } = step(third.snapshot, gate('SCOPE_VIOLATION', 'again'));
    expect(snapshot.value).toBe('ESCALATED');
    expect(snapshot.context).toMatchObject({
      reason: 'SCOPE_VIOLATION',
      returnTo: 'BUILD',
      detail: 'again',
      attempt: 3,
    });
  });

  it('sends a FAIL verdict back to BUILD as the next attempt with the findings', () => {
    const next = drive([...TO_VALIDATE, verdict('FAIL', ['no test for empty input'])]);
    expect(outcome(next)).toEqual({ value: 'BUILD', actions: [dispatch('generator', 'build')] });
    expect(next.snapshot.context).toMatchObject({
      attempt: 2,
      findings: ['no test for empty input'],
    });
  });

  it('escalates ATTEMPTS_EXHAUSTED on a FAIL in the last attempt, keeping the findings', () => {
    const last = drive([...TO_VALIDATE, ...failedAttempts(2), buildReady()]);
    expect(last.snapshot.context.attempt).toBe(3);
    const next = step(last.snapshot, verdict('FAIL', ['still broken']));
    expect(outcome(next)).toEqual({ value: 'ESCALATED', actions: [] });
    expect(next.snapshot.context).toMatchObject({
      reason: 'ATTEMPTS_EXHAUSTED',
      returnTo: 'VALIDATE',
      findings: ['still broken'],
    });
  });

  it('honours a custom maxAttempts from input.limits', () => {
    const { snapshot } = drive([...TO_VALIDATE, verdict('FAIL')], { limits: { maxAttempts: 1 } });
    expect(snapshot.context.reason).toBe('ATTEMPTS_EXHAUSTED');
  });
});

describe('agent contract and timeouts', () => {
  it.each(AGENT_STATES)(
    'gives $name a fresh agent after one invalid report, then dead-letters it',
    (state) => {
      const { path, value, work: dispatched } = state;
      const retried = drive([...path, INVALID]);
      expect(outcome(retried)).toEqual({ value, actions: dispatched });
      expect(retried.snapshot.context.contractFailures).toBe(1);

      const next = step(retried.snapshot, INVALID);
      expect(outcome(next)).toEqual({ value: 'DEAD_LETTER', actions: [] });
      expect(next.snapshot.context).toMatchObject({
        reason: 'CONTRACT_VIOLATION',
        returnTo: topOf(state),
      });
      expect(next.snapshot.context.detail).toBe('report.json: evidence is required');
    },
  );

  it('resets the contract failure count after a valid result', () => {
    const { snapshot } = drive([...TO_BUILD, INVALID, buildReady(), INVALID]);
    expect(snapshot.value).toBe('VALIDATE');
    expect(snapshot.context.contractFailures).toBe(1);
  });

  it.each(AGENT_STATES)('escalates AGENT_TIMEOUT from $name', (state) => {
    const { snapshot } = drive([...state.path, TIMEOUT]);
    expect(snapshot.value).toBe('ESCALATED');
    expect(snapshot.context).toMatchObject({ reason: 'AGENT_TIMEOUT', returnTo: topOf(state) });
  });

  it.each(AGENT_STATES)(
    'escalates AGENT_UNAVAILABLE from $name with the fix, using no contract retry',
    (state) => {
      const { snapshot } = drive([...state.path, unavailable()]);
      expect(snapshot.value).toBe('ESCALATED');
      expect(snapshot.context).toMatchObject({
        reason: 'AGENT_UNAVAILABLE',
        detail: UNAVAILABLE_DETAIL,
        returnTo: topOf(state),
        contractFailures: 0,
      });
    },
  );

  it('escalates a stall as AGENT_STALLED, and RETRY sends the same agent phase again', () => {
    const escalated = drive([...TO_BUILD, unavailable('AGENT_STALLED')]);
    expect(escalated.snapshot.context.reason).toBe('AGENT_STALLED');
    const retried = step(escalated.snapshot, RETRY);
    expect(retried.snapshot.value).toBe('BUILD');
    expect(retried.snapshot.context).toMatchObject({ reason: null, detail: null });
  });

  it('charges the cost an unavailable agent reported', () => {
    const next = drive([...TO_BUILD, unavailable('AGENT_UNAVAILABLE', 0.5)]);
    expect(next.snapshot.context.costUsd).toBe(drive(TO_BUILD).snapshot.context.costUsd + 0.5);
  });
});

describe('jobs the worker gives up on', () => {
  it.each(AGENT_STATES)('escalates JOB_FAILED from $name with its reason and detail', (state) => {
    const { snapshot } = drive([...state.path, jobFailed()]);
    expect(snapshot.value).toBe('ESCALATED');
    expect(snapshot.context).toMatchObject({
      reason: 'WORKSPACE_BROKEN',
      detail: JOB_DETAIL,
      returnTo: topOf(state),
      contractFailures: 0,
    });
  });

  it('escalates a failed merge job as JOB_FAILED from SHIP, and RETRY merges again', () => {
    const escalated = drive([...TO_MERGING, jobFailed('JOB_FAILED')]);
    expect(escalated.snapshot.value).toBe('ESCALATED');
    expect(escalated.snapshot.context).toMatchObject({ reason: 'JOB_FAILED', returnTo: 'SHIP' });
    const retried = step(escalated.snapshot, RETRY);
    expect(retried.snapshot.value).toEqual({ SHIP: 'merging' });
  });

  it('is refused once the ticket is final', () => {
    const live = drive([...TO_MERGING, MERGED, LIVE_OK]);
    expect(accepts(live.snapshot, jobFailed())).toBe(false);
  });
});

describe('budgets', () => {
  const capped = { limits: { maxCostUsd: 5 } };

  it('accumulates the cost of every agent result', () => {
    expect(drive([START, planReady(1.5), reviewed('APPROVE', 2)]).snapshot.context.costUsd).toBe(
      3.5,
    );
  });

  it('escalates BUDGET_EXCEEDED when a result pushes spend past maxCostUsd, dropping it', () => {
    const next = drive([START, planReady(6)], capped);
    expect(outcome(next)).toEqual({ value: 'ESCALATED', actions: [] });
    expect(next.snapshot.context).toMatchObject({
      reason: 'BUDGET_EXCEEDED',
      returnTo: 'PLAN_DRAFT',
      costUsd: 6,
      planArtifactId: null,
    });
  });

  it('allows spend exactly at maxCostUsd', () => {
    expect(drive([START, planReady(5)], capped).snapshot.value).toEqual({
      PLAN_NEGOTIATE: 'critique',
    });
  });

  it.each(WORKING)(
    'escalates a wall-clock BUDGET_EXCEEDED from the current timer in $name',
    (state) => {
      const { snapshot } = drive([...state.path, timeUp(0)]);
      expect(snapshot.value).toBe('ESCALATED');
      expect(snapshot.context).toMatchObject({ reason: 'BUDGET_EXCEEDED', returnTo: topOf(state) });
    },
  );

  it('re-arms the timer and resets the cost window on RETRY, so the old timer is stale', () => {
    const escalated = drive([...TO_BUILD, buildReady(6)], capped);
    const retried = step(escalated.snapshot, RETRY);
    expect(outcome(retried)).toEqual({
      value: 'BUILD',
      actions: [ARM, dispatch('generator', 'build')],
    });
    expect(retried.snapshot.context).toMatchObject({
      timer: 1,
      costUsd: 6,
      costWindowStartUsd: 6,
      reason: null,
    });

    // A fresh 5 USD window: 4 more is fine where the old window would have broken.
    expect(step(retried.snapshot, buildReady(4)).snapshot.value).toBe('VALIDATE');

    expect(accepts(retried.snapshot, timeUp(0))).toBe(false);
    expect(step(retried.snapshot, timeUp(0)).snapshot).toBe(retried.snapshot);
    expect(step(retried.snapshot, timeUp(1)).snapshot.value).toBe('ESCALATED');
  });

  it('refuses a wall-clock BUDGET_EXCEEDED naming no timer arming (it cannot be fenced)', () => {
    const retried = drive([...TO_BUILD, timeUp(0), RETRY]).snapshot;
    expect(accepts(retried, { type: 'BUDGET_EXCEEDED', kind: 'time' })).toBe(false);
  });
});

describe('SHIP', () => {
  it('waits for an operator APPROVE in copilot mode before merging', () => {
    const waiting = drive(TO_MERGING, { mode: 'copilot' });
    expect(outcome(waiting)).toEqual({ value: { SHIP: 'awaiting_approval' }, actions: [] });
    const merging = step(waiting.snapshot, APPROVE);
    expect(outcome(merging)).toEqual({ value: { SHIP: 'merging' }, actions: work('mergeBranch') });
    expect(merging.snapshot.context.humanGated).toBe(false);
  });

  it('cancels on REJECT while awaiting approval', () => {
    const next = drive([...TO_MERGING, REJECT], { mode: 'copilot' });
    expect(outcome(next)).toEqual({
      value: 'CANCELLED',
      actions: work('notifyDependents', 'releaseWorkspace'),
    });
    expect(next.snapshot.context.detail).toBe('not wanted');
  });

  it('escalates MERGE_CONFLICT, and RETRY merges again', () => {
    const escalated = drive([...TO_MERGING, CONFLICT]);
    expect(escalated.snapshot.context).toMatchObject({
      reason: 'MERGE_CONFLICT',
      returnTo: 'SHIP',
      detail: 'conflict in src/a.ts',
    });
    const retried = step(escalated.snapshot, RETRY);
    expect(outcome(retried)).toEqual({
      value: { SHIP: 'merging' },
      actions: work('armBudgetTimer', 'mergeBranch'),
    });
  });

  it('escalates LIVE_CHECK_FAILED; RETRY re-verifies the merge commit, no second merge', () => {
    const escalated = drive([...TO_VERIFYING, LIVE_FAILED]);
    expect(escalated.snapshot.context).toMatchObject({
      reason: 'LIVE_CHECK_FAILED',
      returnTo: 'SHIP',
      mergeCommit: 'abc1234',
    });
    const retried = step(escalated.snapshot, RETRY);
    expect(outcome(retried)).toEqual({
      value: { SHIP: 'verifying' },
      actions: work('armBudgetTimer', 'runLiveCheck'),
    });
  });

  it('returns to awaiting approval after a block in copilot mode', () => {
    const blocked = drive([...TO_MERGING, BLOCK], { mode: 'copilot' });
    expect(blocked.snapshot.context.returnTo).toBe('SHIP');
    expect(step(blocked.snapshot, UNBLOCK).snapshot.value).toEqual({ SHIP: 'awaiting_approval' });
  });
});

describe('BLOCKED', () => {
  it.each(WORKING)('blocks $name and resumes it with its work on UNBLOCK', (state) => {
    const blocked = drive([...state.path, BLOCK]);
    expect(outcome(blocked)).toEqual({ value: 'BLOCKED', actions: [] });
    expect(blocked.snapshot.context).toMatchObject({ returnTo: topOf(state), blockers: ['T-42'] });

    const next = step(blocked.snapshot, UNBLOCK);
    // Negotiation resumes at its start: a blocked revision is critiqued again, not revised; a
    // ticket waiting for a clean checkout merges again (and finds out whether it still must wait).
    const restart: Record<string, string> = {
      'PLAN_NEGOTIATE.revise': 'PLAN_NEGOTIATE.critique',
      'SHIP.waiting_checkout': 'SHIP.merging',
    };
    const resumed = WORKING.find((s) => s.name === (restart[state.name] ?? state.name))!;
    expect(outcome(next)).toEqual({ value: resumed.value, actions: resumed.work });
    expect(next.snapshot.context).toMatchObject({ returnTo: null, blockers: [] });
  });

  it('cancels a blocked ticket', () => {
    expect(drive([...TO_BUILD, BLOCK, CANCEL]).snapshot.value).toBe('CANCELLED');
  });
});

describe('ESCALATED', () => {
  it.each([
    [
      'PLAN_ROUNDS_EXHAUSTED',
      [
        ...TO_CRITIQUE,
        ...Array.from({ length: 4 }, () => [reviewed('REVISE'), planReady()]).flat(),
        reviewed('REVISE'),
      ],
      'PLAN_APPROVED',
      work('freezePlan'),
      {},
    ],
    [
      'RED_NOT_RED',
      [...TO_RED, gate('RED_NOT_RED'), gate('RED_NOT_RED')],
      'BUILD',
      [dispatch('generator', 'build')],
      { attempt: 1 },
    ],
    [
      'ATTEMPTS_EXHAUSTED',
      [...TO_VALIDATE, ...failedAttempts(3)],
      { SHIP: 'merging' },
      work('mergeBranch'),
      {},
    ],
    [
      'LIVE_CHECK_FAILED',
      [...TO_VERIFYING, LIVE_FAILED],
      'LIVE',
      work('notifyDependents', 'releaseWorkspace'),
      { liveEvidence: null },
    ],
  ] as const)(
    'lets APPROVE after %s pass that gate as human-gated',
    (_, path, value, actions, context) => {
      const approved = step(drive(path).snapshot, APPROVE);
      expect(outcome(approved)).toEqual({ value, actions });
      expect(approved.snapshot.context).toMatchObject({
        ...context,
        humanGated: true,
        reason: null,
        returnTo: null,
      });
    },
  );

  it.each([
    ['lead encroachment (no plan to approve)', [START, gate('LEAD_ENCROACHMENT')]],
    ['an agent timeout', [...TO_BUILD, TIMEOUT]],
    ['a merge conflict', [...TO_MERGING, CONFLICT]],
    ['a wall-clock budget', [...TO_CRITIQUE, timeUp(0)]],
  ] as const)(
    'does not accept APPROVE after %s: that is no gate verdict a human can vouch for',
    (_, path) => {
      const { snapshot } = drive(path);
      expect(snapshot.value).toBe('ESCALATED');
      expect(accepts(snapshot, APPROVE)).toBe(false);
      expect(step(snapshot, APPROVE).snapshot).toBe(snapshot);
    },
  );

  it('resets attempts, contract failures, cost window and timer on RETRY when exhausted', () => {
    const fails = [
      INVALID,
      verdict('FAIL'),
      buildReady(),
      verdict('FAIL'),
      buildReady(1),
      INVALID,
      verdict('FAIL', ['x']),
    ];
    const escalated = drive([...TO_VALIDATE, ...fails]);
    expect(escalated.snapshot.context).toMatchObject({
      reason: 'ATTEMPTS_EXHAUSTED',
      attempt: 3,
      contractFailures: 1,
    });
    const next = step(escalated.snapshot, RETRY);
    expect(outcome(next)).toEqual({
      value: 'BUILD',
      actions: [ARM, dispatch('generator', 'build')],
    });
    expect(next.snapshot.context).toMatchObject({
      attempt: 1,
      redAttempt: 1,
      contractFailures: 0,
      timer: 1,
      costWindowStartUsd: 1,
      reason: null,
      detail: null,
      returnTo: null,
      findings: ['x'],
    });
  });

  it('restarts plan negotiation at round 1 on RETRY after PLAN_ROUNDS_EXHAUSTED', () => {
    const retried = drive([...TO_CRITIQUE, ...revisions(4), reviewed('REVISE'), RETRY]);
    expect(outcome(retried)).toEqual({
      value: { PLAN_NEGOTIATE: 'critique' },
      actions: [ARM, dispatch('validator', 'plan_critique')],
    });
    expect(retried.snapshot.context.round).toBe(1);
  });

  it.each([REJECT, CANCEL])('cancels on $type, recording the operator reason', (event) => {
    const next = drive([...TO_BUILD, TIMEOUT, event]);
    expect(outcome(next)).toEqual({
      value: 'CANCELLED',
      actions: work('notifyDependents', 'releaseWorkspace'),
    });
    expect(next.snapshot.context.detail).toBe('reason' in event ? event.reason : undefined);
  });
});

describe('DEAD_LETTER', () => {
  it('goes back to the state it left on RETRY with a fresh agent and counters', () => {
    const next = drive([...TO_VALIDATE, INVALID, INVALID, RETRY]);
    expect(outcome(next)).toEqual({
      value: 'VALIDATE',
      actions: [ARM, dispatch('validator', 'validate')],
    });
    expect(next.snapshot.context).toMatchObject({
      contractFailures: 0,
      reason: null,
      returnTo: null,
      timer: 1,
    });
  });

  it('cancels on CANCEL', () => {
    expect(drive([...TO_VALIDATE, INVALID, INVALID, CANCEL]).snapshot.value).toBe('CANCELLED');
  });
});

describe('VERIFIER_CHANGED', () => {
  it.each(WORKING)('escalates from $name', (state) => {
    const next = drive([...state.path, VERIFIER]);
    expect(outcome(next)).toEqual({ value: 'ESCALATED', actions: [] });
    expect(next.snapshot.context).toMatchObject({
      reason: 'VERIFIER_CHANGED',
      returnTo: topOf(state),
      detail: VERIFIER_DETAIL,
    });
  });
});

describe('NOTE, REPLAY and events a state does not accept', () => {
  const SAMPLE: Record<TicketEventType, TicketEventInput> = {
    START,
    PLAN_READY: planReady(),
    PLAN_REVIEWED: reviewed('REVISE'),
    PLAN_FROZEN: FROZEN,
    RED_CONFIRMED,
    BUILD_READY: buildReady(),
    VERDICT: verdict('PASS'),
    GATE_FAILED: gate('SCOPE_VIOLATION'),
    REPORT_INVALID: INVALID,
    AGENT_TIMEOUT: TIMEOUT,
    AGENT_UNAVAILABLE: unavailable(),
    JOB_FAILED: jobFailed(),
    MERGED,
    MERGE_CONFLICT: CONFLICT,
    MERGE_CHECK_FAILED,
    CHECKOUT_DIRTY: DIRTY,
    LIVE_CHECK_PASSED: LIVE_OK,
    LIVE_CHECK_FAILED: LIVE_FAILED,
    BUDGET_EXCEEDED: timeUp(0),
    VERIFIER_CHANGED: VERIFIER,
    BLOCK,
    UNBLOCK,
    APPROVE,
    RETRY,
    REJECT,
    CANCEL,
    NOTE,
    REPLAY,
    PR_OPENED: PR_OPENED_EV,
    PR_APPROVED: { type: 'PR_APPROVED', reviewId: 1 },
    PR_CHANGES_REQUESTED: { type: 'PR_CHANGES_REQUESTED', reviewId: 2, findings: ['a.ts:1: no'] },
    PR_CHECKS_FAILED: { type: 'PR_CHECKS_FAILED', ...run, findings: ['ci failed'] },
    PR_MERGED: { type: 'PR_MERGED', commit: 'abc1234' },
    PR_CLOSED: { type: 'PR_CLOSED' },
  };
  const acceptedTypes = (snapshot: Snapshot) =>
    Object.values(SAMPLE)
      .filter((event) => accepts(snapshot, event))
      .map((event) => event.type)
      .sort();
  const WORKS = ['BLOCK', 'BUDGET_EXCEEDED', 'CANCEL', 'JOB_FAILED', 'VERIFIER_CHANGED'];
  const AGENT = [...WORKS, 'AGENT_TIMEOUT', 'AGENT_UNAVAILABLE', 'REPLAY', 'REPORT_INVALID'];
  // Every state, how to reach it, and what it accepts besides NOTE. A lead's only gate is
  // encroachment, so the sample SCOPE_VIOLATION is not accepted in PLAN_DRAFT or revise.
  const EVERY_STATE: [string, readonly TicketEventInput[], TicketInput, readonly string[]][] = [
    ['QUEUED', [], {}, ['CANCEL', 'REPLAY', 'START']],
    ['PLAN_DRAFT', TO_PLAN_DRAFT, {}, [...AGENT, 'PLAN_READY']],
    ['PLAN_NEGOTIATE.critique', TO_CRITIQUE, {}, [...AGENT, 'PLAN_REVIEWED']],
    ['PLAN_NEGOTIATE.revise', TO_REVISE, {}, [...AGENT, 'PLAN_READY']],
    ['PLAN_APPROVED', TO_PLAN_APPROVED, {}, [...WORKS, 'PLAN_FROZEN', 'REPLAY']],
    ['RED', TO_RED, {}, [...AGENT, 'GATE_FAILED', 'RED_CONFIRMED']],
    ['BUILD', TO_BUILD, {}, [...AGENT, 'BUILD_READY', 'GATE_FAILED']],
    ['VALIDATE', TO_VALIDATE, {}, [...AGENT, 'VERDICT']],
    ['SHIP.awaiting_approval', TO_MERGING, { mode: 'copilot' }, [...WORKS, 'APPROVE', 'REJECT']],
    [
      'SHIP.merging',
      TO_MERGING,
      {},
      [...WORKS, 'CHECKOUT_DIRTY', 'MERGED', 'MERGE_CHECK_FAILED', 'MERGE_CONFLICT', 'REPLAY'],
    ],
    [
      'SHIP.waiting_checkout',
      TO_WAITING,
      {},
      [...WORKS, 'MERGED', 'MERGE_CHECK_FAILED', 'MERGE_CONFLICT', 'REPLAY'],
    ],
    [
      'SHIP.verifying',
      TO_VERIFYING,
      {},
      [...WORKS, 'LIVE_CHECK_FAILED', 'LIVE_CHECK_PASSED', 'REPLAY'],
    ],
    ['SHIP.publishing', TO_MERGING, GITHUB, [...WORKS, 'PR_OPENED', 'REPLAY']],
    ['SHIP.awaiting_review', [...TO_MERGING, PR_OPENED_EV], GITHUB, [...WORKS, ...PR_WAIT]],
    [
      'SHIP.awaiting_merge',
      [...TO_MERGING, PR_OPENED_EV, { type: 'PR_APPROVED', reviewId: 1 }],
      { ...GITHUB, mode: 'copilot' },
      [...WORKS, 'APPROVE', 'PR_CHANGES_REQUESTED', 'PR_CLOSED', 'PR_MERGED'],
    ],
    [
      'SHIP.pr_merging',
      [...TO_MERGING, PR_OPENED_EV, { type: 'PR_APPROVED', reviewId: 1 }],
      GITHUB,
      [
        ...WORKS,
        'MERGED',
        'MERGE_CONFLICT',
        'PR_CHECKS_FAILED',
        'PR_CLOSED',
        'PR_MERGED',
        'REPLAY',
      ],
    ],
    ['BLOCKED', [...TO_BUILD, BLOCK], {}, ['CANCEL', 'UNBLOCK']],
    ['ESCALATED', [...TO_BUILD, TIMEOUT], {}, ['CANCEL', 'REJECT', 'RETRY']],
    ['DEAD_LETTER', [...TO_BUILD, INVALID, INVALID], {}, ['CANCEL', 'RETRY']],
    ['LIVE', TO_LIVE, {}, ['REPLAY']],
    ['CANCELLED', [CANCEL], {}, ['REPLAY']],
  ];

  it.each(EVERY_STATE)('accepts exactly the expected events in %s', (_, path, input, expected) => {
    expect(acceptedTypes(drive(path, input).snapshot)).toEqual([...expected, 'NOTE'].sort());
  });

  it.each(EVERY_STATE)('accepts a NOTE in %s without changing the state', (_, path, input) => {
    const before = drive(path, input).snapshot;
    const next = step(before, NOTE);
    expect(outcome(next)).toEqual({ value: before.value, actions: [] });
    expect(next.snapshot.context).toEqual({ ...before.context, notes: before.context.notes + 1 });
  });

  it.each([
    ...WORKING,
    { name: 'QUEUED', path: [], work: work('requestSchedule') },
    { name: 'LIVE', path: TO_LIVE, work: work('notifyDependents', 'releaseWorkspace') },
  ])(
    're-enters $name on REPLAY, returning its work without changing counters',
    ({ path, work: expected }) => {
      const before = drive(path).snapshot;
      const next = step(before, REPLAY);
      expect(outcome(next)).toEqual({ value: before.value, actions: expected });
      expect(next.snapshot.context).toEqual(before.context);
    },
  );

  it('leaves the snapshot untouched for an event the state does not accept', () => {
    const queued = begin().snapshot;
    expect(accepts(queued, MERGED)).toBe(false);
    expect(outcome(step(queued, MERGED))).toEqual({ value: 'QUEUED', actions: [] });
    expect(step(queued, MERGED).snapshot).toBe(queued);
  });
});

describe('ticketEventSchema', () => {
  it.each([
    ['a run id that is not a uuid', { type: 'BUILD_READY', runId: 'run-1' }],
    ['an unknown type', { type: 'SHIP_IT' }],
    [
      'a sha256 that is not 64 hex digits',
      { type: 'PLAN_FROZEN', runId: RUN_ID, artifactId: 1, sha256: 'ABC' },
    ],
    ['a negative cost', { type: 'BUILD_READY', runId: RUN_ID, costUsd: -1 }],
    ['a short merge commit', { type: 'MERGED', runId: RUN_ID, commit: 'abc' }],
  ])('rejects %s', (_, event) => {
    expect(ticketEventSchema.safeParse(event).success).toBe(false);
  });

  it('defaults costUsd to 0 and findings to []', () => {
    expect(ticketEventSchema.parse({ type: 'VERDICT', runId: RUN_ID, verdict: 'PASS' })).toEqual({
      type: 'VERDICT',
      runId: RUN_ID,
      verdict: 'PASS',
      costUsd: 0,
      findings: [],
    });
  });
});

describe('determinism', () => {
  const JOURNAL: TicketEventInput[] = [
    START,
    planReady(0.5),
    reviewed('REVISE'),
    INVALID,
    planReady(0.25, 9),
    NOTE,
    reviewed('APPROVE'),
    FROZEN,
    gate('RED_NOT_RED'),
    RED_CONFIRMED,
    BLOCK,
    UNBLOCK,
    buildReady(1),
    verdict('FAIL', ['edge case']),
    buildReady(),
    verdict('PASS'),
    MERGED,
    LIVE_FAILED,
    RETRY,
    REPLAY,
    LIVE_OK,
  ];
  const toJson = (snapshot: Snapshot) =>
    JSON.parse(JSON.stringify(snapshot)) as { value: Snapshot['value']; context: TicketContext };
  const journal = (input: TicketInput) => {
    const steps = [begin(input)];
    for (const event of JOURNAL) steps.push(step(steps.at(-1)!.snapshot, event));
    return steps;
  };

  it('replays the same journal to deep-equal snapshots and actions', () => {
    const a = journal({ limits: { maxCostUsd: 10 } });
    const b = journal({ limits: { maxCostUsd: 10 } });
    expect(a.at(-1)!.snapshot.value).toBe('LIVE');
    expect(a.map((s) => [toJson(s.snapshot), s.actions])).toEqual(
      b.map((s) => [toJson(s.snapshot), s.actions]),
    );
  });

  it('continues identically from a snapshot restored from its JSON with resolveState', () => {
    const steps = journal({});
    JOURNAL.forEach((event, i) => {
      const { value, context } = toJson(steps[i]!.snapshot);
      const restored = ticketMachine.resolveState({ value, context });
      const next = step(restored, event);
      expect(toJson(next.snapshot)).toEqual(toJson(steps[i + 1]!.snapshot));
      expect(next.actions).toEqual(steps[i + 1]!.actions);
    });
  });
});

describe('SHIP: the merge is tested before the base moves, and waits for a dirty checkout', () => {
  it('escalates MERGE_CHECK_FAILED from merging, with no merge commit recorded', () => {
    const next = drive([...TO_MERGING, MERGE_CHECK_FAILED]);
    expect(outcome(next)).toEqual({ value: 'ESCALATED', actions: [] });
    expect(next.snapshot.context).toMatchObject({
      reason: 'MERGE_CHECK_FAILED',
      returnTo: 'SHIP',
      mergeCommit: null,
      detail: 'test command `npm test` failed (exit 1) on the merge commit',
    });
  });

  it('is not approvable past a failing merge check; RETRY merges (and tests) again', () => {
    const escalated = drive([...TO_MERGING, MERGE_CHECK_FAILED]).snapshot;
    expect(accepts(escalated, APPROVE)).toBe(false);
    const retried = step(escalated, RETRY);
    expect(retried.snapshot.value).toEqual({ SHIP: 'merging' });
    expect(retried.actions).toEqual([ARM, ...work('mergeBranch')]);
    expect(retried.snapshot.context).toMatchObject({ reason: null, detail: null });
  });

  it('waits in SHIP.waiting_checkout with CHECKOUT_DIRTY, dispatching the merge job again', () => {
    const next = drive(TO_WAITING);
    expect(outcome(next)).toEqual({
      value: { SHIP: 'waiting_checkout' },
      actions: work('mergeBranch'),
    });
    expect(next.snapshot.context).toMatchObject({
      reason: 'CHECKOUT_DIRTY',
      detail: 'commit or stash in /home/ada/src/app, or switch it off main',
      returnTo: null,
      mergeCommit: null,
    });
  });

  it('resumes from waiting_checkout with MERGED, clearing the waiting reason', () => {
    const next = drive([...TO_WAITING, MERGED]);
    expect(outcome(next)).toEqual({ value: { SHIP: 'verifying' }, actions: work('runLiveCheck') });
    expect(next.snapshot.context).toMatchObject({
      reason: null,
      detail: null,
      mergeCommit: 'abc1234',
    });
    expect(drive([...TO_WAITING, MERGED, LIVE_OK]).snapshot.value).toBe('LIVE');
  });

  it('escalates a conflict or failing check found after the wait', () => {
    expect(drive([...TO_WAITING, CONFLICT]).snapshot.context).toMatchObject({
      reason: 'MERGE_CONFLICT',
      returnTo: 'SHIP',
    });
    expect(drive([...TO_WAITING, MERGE_CHECK_FAILED]).snapshot.context).toMatchObject({
      reason: 'MERGE_CHECK_FAILED',
      returnTo: 'SHIP',
    });
  });

  it('takes no second CHECKOUT_DIRTY while already waiting (no journal row per poll)', () => {
    expect(accepts(drive(TO_WAITING).snapshot, DIRTY)).toBe(false);
  });
});
