/**
 * The ticket machine: the gated lifecycle every ticket goes through (DESIGN.md section 2).
 *
 * Pure data. No I/O, no clocks, no randomness: the engine drives it with xstate's pure
 * `initialTransition` / `transition`, persists the snapshot, and turns the returned named actions
 * (see {@link WORK_ACTIONS}) into jobs in the same database transaction. `assign` actions only
 * touch the context and are applied by xstate itself.
 *
 * @example
 * ```ts
 * const [snapshot, actions] = initialTransition(ticketMachine, { mode: 'dark' });
 * const [next] = transition(ticketMachine, snapshot, { type: 'START' });
 * next.value; // 'PLAN_DRAFT'
 * ```
 */
import { assign, setup, type TransitionConfig } from 'xstate';
import type { Phase, ReasonCode, Role, TicketEvent } from './ticket-events.js';
import { TOP_STATES, type TicketState } from './ticket-states.js';

export * from './ticket-events.js';
export { TOP_STATES, type TicketState };

/** Bumped whenever a change to this file could make an old journal replay differently. */
export const MACHINE_VERSION = 'ticket/6';

/** States a ticket can be sent back to after BLOCKED, ESCALATED or DEAD_LETTER. */
export const RESUMABLE_STATES = [
  'PLAN_DRAFT',
  'PLAN_NEGOTIATE',
  'PLAN_APPROVED',
  'RED',
  'BUILD',
  'VALIDATE',
  'SHIP',
] as const;
export type ResumableState = (typeof RESUMABLE_STATES)[number];

/** States no event leaves except a NOTE. */
export const FINAL_STATES = ['LIVE', 'CANCELLED'] as const satisfies readonly TicketState[];
/** States where the ticket waits for a human (or for other tickets), not for work. */
export const WAITING_STATES = [
  'BLOCKED',
  'ESCALATED',
  'DEAD_LETTER',
] as const satisfies readonly TicketState[];

/** Named actions that imply work outside the machine; the engine turns each into a job. */
export const WORK_ACTIONS = [
  'dispatchAgent',
  'freezePlan',
  'mergeBranch',
  'runLiveCheck',
  'armBudgetTimer',
  'requestSchedule',
  'notifyDependents',
  'releaseWorkspace',
  'publishPr',
  'mergePr',
] as const;
export type WorkAction = (typeof WORK_ACTIONS)[number];

export type ShipMode = 'dark' | 'copilot';
/** How SHIP reaches the base: a local merge (default) or a GitHub pull request. */
export type ShipVia = 'local' | 'github';

export interface TicketLimits {
  /** Plan critique rounds before PLAN_ROUNDS_EXHAUSTED (the 6th round never starts by default). */
  readonly maxPlanRounds: number;
  /** BUILD/VALIDATE attempts before ATTEMPTS_EXHAUSTED. */
  readonly maxAttempts: number;
  /** RED attempts before RED_NOT_RED escalates. */
  readonly maxRedAttempts: number;
  /** Fresh-agent retries after an invalid report before DEAD_LETTER. */
  readonly maxContractRetries: number;
  /** Agent spend allowed since the last human retry; null means unlimited. */
  readonly maxCostUsd: number | null;
  /** Wall-clock budget from START (or the last human retry); null means unlimited. */
  readonly wallClockSeconds: number | null;
}

export const DEFAULT_LIMITS: TicketLimits = {
  maxPlanRounds: 5,
  maxAttempts: 3,
  maxRedAttempts: 2,
  maxContractRetries: 1,
  maxCostUsd: null,
  wallClockSeconds: null,
};

export interface TicketInput {
  readonly mode?: ShipMode;
  readonly limits?: Partial<TicketLimits>;
  /** Omitted for local shipping, so journals written before the GitHub path replay unchanged. */
  readonly shipVia?: ShipVia;
}

export interface TicketContext {
  readonly mode: ShipMode;
  readonly limits: TicketLimits;
  /** Plan negotiation round, 1-based once the first plan exists. */
  readonly round: number;
  /** BUILD/VALIDATE attempt, 1-based once RED is confirmed. */
  readonly attempt: number;
  readonly redAttempt: number;
  readonly contractFailures: number;
  readonly costUsd: number;
  /** Spend at the last human retry; the cost budget counts from here. */
  readonly costWindowStartUsd: number;
  /** Generation of the wall-clock timer; a BUDGET_EXCEEDED from an older arming is not accepted. */
  readonly timer: number;
  readonly reason: ReasonCode | null;
  readonly detail: string | null;
  /** Where BLOCKED, ESCALATED and DEAD_LETTER resume. */
  readonly returnTo: ResumableState | null;
  readonly blockers: readonly string[];
  readonly planArtifactId: number | null;
  readonly approvedPlan: { readonly artifactId: number; readonly sha256: string } | null;
  /** Validator or gate findings handed to the next BUILD. */
  readonly findings: readonly string[];
  readonly mergeCommit: string | null;
  /** The RED commit (set by RED_CONFIRMED): its test files are the pinned acceptance tests. */
  readonly redCommit?: string | null;
  readonly liveEvidence: string | null;
  /** True when a human, not a gate, let the ticket past a check. */
  readonly humanGated: boolean;
  readonly notes: number;
  /** Present (as 'github') only for tickets that ship through a pull request. */
  readonly shipVia?: ShipVia;
  /** The ticket's pull request once the GitHub SHIP path opened (or reused) it. */
  readonly pr?: { readonly number: number; readonly url: string };
}

type Ev<T extends TicketEvent['type']> = Extract<TicketEvent, { type: T }>;
const costOf = (event: TicketEvent): number => ('costUsd' in event ? event.costUsd : 0);
const eventText = (event: TicketEvent): string | null => {
  if ('detail' in event && event.detail) return event.detail;
  if (
    'reason' in event &&
    typeof event.reason === 'string' &&
    event.type !== 'GATE_FAILED' &&
    event.type !== 'AGENT_UNAVAILABLE' &&
    event.type !== 'JOB_FAILED'
  )
    return event.reason;
  if (event.type === 'REPORT_INVALID') return event.errors.join('\n');
  return null;
};

const machineSetup = setup({
  types: {
    context: {} as TicketContext,
    events: {} as TicketEvent,
    input: {} as TicketInput,
  },
  actions: {
    // Work actions: no implementation here; the engine maps them to jobs.
    dispatchAgent: (_: unknown, _params: { role: Role; phase: Phase }) => {},
    freezePlan: () => {},
    mergeBranch: () => {},
    runLiveCheck: () => {},
    armBudgetTimer: () => {},
    requestSchedule: () => {},
    notifyDependents: () => {},
    releaseWorkspace: () => {},
    publishPr: () => {},
    mergePr: () => {},
    // Context updates.
    addCost: assign({ costUsd: ({ context, event }) => context.costUsd + costOf(event) }),
    phaseSucceeded: assign({ contractFailures: 0 }),
    countContractFailure: assign({
      contractFailures: ({ context }) => context.contractFailures + 1,
    }),
    recordPlan: assign({ planArtifactId: ({ event }) => (event as Ev<'PLAN_READY'>).artifactId }),
    startNegotiation: assign({ round: 1 }),
    nextRound: assign({ round: ({ context }) => context.round + 1 }),
    recordApprovedPlan: assign({
      approvedPlan: ({ event }) => {
        const e = event as Ev<'PLAN_FROZEN'>;
        return { artifactId: e.artifactId, sha256: e.sha256 };
      },
    }),
    startRed: assign({ redAttempt: 1 }),
    nextRedAttempt: assign({ redAttempt: ({ context }) => context.redAttempt + 1 }),
    startBuild: assign({ attempt: 1, findings: [] }),
    recordRedCommit: assign({
      redCommit: ({ event }) => (event as Ev<'RED_CONFIRMED'>).commit ?? null,
    }),
    nextAttempt: assign({ attempt: ({ context }) => context.attempt + 1 }),
    recordFindings: assign({
      findings: ({ event }) =>
        event.type === 'VERDICT'
          ? event.findings
          : event.type === 'GATE_FAILED'
            ? [event.detail]
            : [],
    }),
    recordMerge: assign({
      mergeCommit: ({ event }) => (event as Ev<'MERGED'> | Ev<'PR_MERGED'>).commit,
    }),
    recordPr: assign({
      pr: ({ event }) => {
        const e = event as Ev<'PR_OPENED'>;
        return { number: e.number, url: e.url };
      },
    }),
    /** A reviewer's requested changes (or failed required checks) are the next BUILD's findings. */
    recordReviewFindings: assign({
      findings: ({ event }) => (event as Ev<'PR_CHANGES_REQUESTED'>).findings,
    }),
    clearWaiting: assign({ reason: null, detail: null }),
    waitForCheckout: assign({
      reason: 'CHECKOUT_DIRTY' as const,
      detail: ({ event }) => (event as Ev<'CHECKOUT_DIRTY'>).detail,
    }),
    recordLiveEvidence: assign({
      liveEvidence: ({ event }) => (event as Ev<'LIVE_CHECK_PASSED'>).evidence,
    }),
    escalate: assign(
      (args, params: { reason: ReasonCode | 'FROM_EVENT'; from: ResumableState }) => ({
        reason:
          params.reason === 'FROM_EVENT'
            ? (args.event as Ev<'GATE_FAILED'> | Ev<'AGENT_UNAVAILABLE'> | Ev<'JOB_FAILED'>).reason
            : params.reason,
        detail: eventText(args.event),
        returnTo: params.from,
      }),
    ),
    block: assign((args, params: { from: ResumableState }) => ({
      returnTo: params.from,
      blockers: (args.event as Ev<'BLOCK'>).blockers,
    })),
    unblock: assign({ returnTo: null, blockers: [] }),
    humanPass: assign(({ context }) => ({
      humanGated: true,
      reason: null,
      detail: null,
      returnTo: null,
      costWindowStartUsd: context.costUsd,
    })),
    resetForRetry: assign(({ context }) => ({
      round: context.returnTo === 'PLAN_NEGOTIATE' ? 1 : context.round,
      attempt: 1,
      redAttempt: 1,
      contractFailures: 0,
      costWindowStartUsd: context.costUsd,
      timer: context.timer + 1,
      reason: null,
      detail: null,
      returnTo: null,
    })),
    recordCancel: assign({ detail: ({ event }) => eventText(event) }),
    countNote: assign({ notes: ({ context }) => context.notes + 1 }),
  },
  guards: {
    costBudgetExceeded: ({ context, event }) =>
      context.limits.maxCostUsd !== null &&
      context.costUsd + costOf(event) - context.costWindowStartUsd > context.limits.maxCostUsd,
    // A wall-clock expiry must name the arming it belongs to; an older (or unnamed) one is stale.
    budgetTimerCurrent: ({ context, event }) =>
      event.type === 'BUDGET_EXCEEDED' && (event.kind === 'cost' || event.timer === context.timer),
    contractRetriesLeft: ({ context }) =>
      context.contractFailures < context.limits.maxContractRetries,
    roundsLeft: ({ context }) => context.round < context.limits.maxPlanRounds,
    attemptsLeft: ({ context }) => context.attempt < context.limits.maxAttempts,
    redAttemptsLeft: ({ context }) => context.redAttempt < context.limits.maxRedAttempts,
    verdictIs: ({ event }, params: { verdict: string }) =>
      'verdict' in event && event.verdict === params.verdict,
    gateIs: ({ event }, params: { reasons: readonly string[] }) =>
      event.type === 'GATE_FAILED' && params.reasons.includes(event.reason),
    returnsTo: ({ context }, params: { states: readonly ResumableState[] }) =>
      context.returnTo !== null && params.states.includes(context.returnTo),
    reasonIs: ({ context }, params: { reason: ReasonCode }) => context.reason === params.reason,
    escalatedBy: ({ context }, params: { from: ResumableState; reason: ReasonCode }) =>
      context.returnTo === params.from &&
      context.reason === params.reason &&
      (params.from !== 'SHIP' || context.mergeCommit !== null),
    hasPlan: ({ context }) => context.planArtifactId !== null,
    merged: ({ context }) => context.mergeCommit !== null,
    copilot: ({ context }) => context.mode === 'copilot',
    github: ({ context }) => context.shipVia === 'github',
  },
});

// XState's config type needs its actor/action/guard parameters left open here.
// biome-ignore lint/suspicious/noExplicitAny: see above
type AnyParam = any;
type Transition = TransitionConfig<
  TicketContext,
  TicketEvent,
  TicketEvent,
  AnyParam,
  AnyParam,
  AnyParam,
  AnyParam,
  AnyParam
>;
type Transitions = Partial<Record<TicketEvent['type'], Transition | Transition[]>>;

const ESCALATED = '#ticket.ESCALATED';
const escalate = (reason: ReasonCode | 'FROM_EVENT', from: ResumableState) =>
  ({ type: 'escalate', params: { reason, from } }) as const;

/** Transitions every working state shares: budgets, cancel, blockers, the verifier tripwire. */
function workingState(from: ResumableState): Transitions {
  return {
    BUDGET_EXCEEDED: {
      guard: 'budgetTimerCurrent',
      target: ESCALATED,
      actions: escalate('BUDGET_EXCEEDED', from),
    },
    VERIFIER_CHANGED: { target: ESCALATED, actions: escalate('VERIFIER_CHANGED', from) },
    // The worker gave up on this state's job (fenced by run id): a person looks, RETRY resumes.
    JOB_FAILED: { target: ESCALATED, actions: escalate('FROM_EVENT', from) },
    CANCEL: { target: '#ticket.CANCELLED', actions: 'recordCancel' },
    BLOCK: { target: '#ticket.BLOCKED', actions: { type: 'block', params: { from } } },
  };
}

/**
 * Transitions of a state where an agent is working: every result first pays its cost (and may
 * break the cost budget), an invalid report gets a fresh agent then DEAD_LETTER, a timeout
 * escalates. `success` holds the phase's own results.
 */
function agentState(
  from: ResumableState,
  leafId: string,
  role: Role,
  phase: Phase,
  success: Transitions,
) {
  const withCost = (candidates: Transition[]): Transition[] => [
    {
      guard: 'costBudgetExceeded',
      target: ESCALATED,
      actions: ['addCost', escalate('BUDGET_EXCEEDED', from)],
    },
    ...candidates.map((t) => ({ ...t, actions: ['addCost', ...toArray(t.actions)] })),
  ];
  const on: Transitions = {
    ...workingState(from),
    REPLAY: { target: leafId, reenter: true },
    REPORT_INVALID: withCost([
      {
        guard: 'contractRetriesLeft',
        target: leafId,
        reenter: true,
        actions: ['countContractFailure'],
      },
      {
        target: '#ticket.DEAD_LETTER',
        actions: [{ type: 'escalate', params: { reason: 'CONTRACT_VIOLATION', from } }],
      },
    ]),
    AGENT_TIMEOUT: withCost([{ target: ESCALATED, actions: [escalate('AGENT_TIMEOUT', from)] }]),
    // Not the agent's fault and not a contract failure: no retry is used up; a person fixes it.
    AGENT_UNAVAILABLE: withCost([{ target: ESCALATED, actions: [escalate('FROM_EVENT', from)] }]),
  };
  for (const [type, t] of Object.entries(success)) {
    on[type as TicketEvent['type']] = withCost(toArray(t as Transition | Transition[]));
  }
  return { entry: { type: 'dispatchAgent', params: { role, phase } }, on } as const;
}

function toArray<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...value] : [value as T];
}

const leadEncroachment = (from: ResumableState): Transition => ({
  guard: { type: 'gateIs', params: { reasons: ['LEAD_ENCROACHMENT', 'WORKSPACE_TAMPERED'] } },
  target: ESCALATED,
  actions: escalate('FROM_EVENT', from),
});

/** What a merge job reports from `SHIP.merging` and `SHIP.waiting_checkout`. */
const mergeOutcomes: Transitions = {
  MERGED: { target: 'verifying', actions: 'recordMerge' },
  MERGE_CONFLICT: { target: ESCALATED, actions: escalate('MERGE_CONFLICT', 'SHIP') },
  MERGE_CHECK_FAILED: { target: ESCALATED, actions: escalate('MERGE_CHECK_FAILED', 'SHIP') },
};

/**
 * Where an operator's APPROVE sends an escalated ticket: past the one gate that stopped it, vouched
 * for by a human (humanGated). Escalations that are not a gate's verdict (budget, timeout, verifier
 * change, encroachment, conflict) are not approvable: RETRY, REJECT or CANCEL them.
 */
const approveEscalation: Transition[] = [
  {
    guard: {
      type: 'escalatedBy',
      params: { from: 'PLAN_NEGOTIATE', reason: 'PLAN_ROUNDS_EXHAUSTED' },
    },
    target: 'PLAN_APPROVED',
    actions: 'humanPass',
  },
  {
    guard: { type: 'escalatedBy', params: { from: 'RED', reason: 'RED_NOT_RED' } },
    target: 'BUILD',
    actions: ['humanPass', 'startBuild'],
  },
  {
    guard: { type: 'escalatedBy', params: { from: 'VALIDATE', reason: 'ATTEMPTS_EXHAUSTED' } },
    target: 'SHIP',
    actions: 'humanPass',
  },
  {
    guard: { type: 'escalatedBy', params: { from: 'SHIP', reason: 'LIVE_CHECK_FAILED' } },
    target: 'LIVE',
    actions: 'humanPass',
  },
];

/** Where an operator's RETRY sends a ticket: the phase it left, with fresh counters and budget. */
const retryEscalation: Transition[] = [
  {
    guard: { type: 'reasonIs', params: { reason: 'ATTEMPTS_EXHAUSTED' } },
    target: 'BUILD',
    actions: ['resetForRetry', 'armBudgetTimer'],
  },
  ...(
    ['PLAN_DRAFT', 'PLAN_NEGOTIATE', 'PLAN_APPROVED', 'RED', 'BUILD', 'VALIDATE', 'SHIP'] as const
  ).map((state) => ({
    guard: { type: 'returnsTo', params: { states: [state] } },
    target: state,
    actions: ['resetForRetry', 'armBudgetTimer'],
  })),
];

/**
 * Review feedback (or failed required checks) is the next BUILD attempt, with the comments as its
 * findings; with no attempt left the ticket escalates (ATTEMPTS_EXHAUSTED, RETRY rebuilds).
 */
const reviewRebuild: Transition[] = [
  {
    guard: 'attemptsLeft',
    target: '#ticket.BUILD',
    actions: ['nextAttempt', 'recordReviewFindings'],
  },
  { target: ESCALATED, actions: ['recordReviewFindings', escalate('ATTEMPTS_EXHAUSTED', 'SHIP')] },
];

/** Events that end a pull request's wait, whichever GitHub substate the ticket is in. */
const prOutcomes: Transitions = {
  PR_CHANGES_REQUESTED: reviewRebuild,
  PR_MERGED: { target: 'verifying', actions: 'recordMerge' },
  PR_CLOSED: { target: ESCALATED, actions: escalate('PR_CLOSED', 'SHIP') },
  // An operator's approve asks loopwright to merge through the API now.
  APPROVE: { target: 'pr_merging' },
};

/**
 * The GitHub SHIP path: push and open (or reuse) the PR, then wait with no work at all for the
 * review (webhook or poll). Approved: dark merges through the API, copilot waits for a human merge.
 */
const githubShipStates = {
  publishing: {
    entry: 'publishPr',
    on: {
      PR_OPENED: { target: 'awaiting_review', actions: 'recordPr' },
      REPLAY: { target: 'publishing', reenter: true },
    },
  },
  awaiting_review: {
    on: {
      ...prOutcomes,
      PR_APPROVED: [{ guard: 'copilot', target: 'awaiting_merge' }, { target: 'pr_merging' }],
    },
  },
  awaiting_merge: { on: prOutcomes },
  pr_merging: {
    entry: 'mergePr',
    on: {
      MERGED: { target: 'verifying', actions: 'recordMerge' },
      MERGE_CONFLICT: { target: ESCALATED, actions: escalate('MERGE_CONFLICT', 'SHIP') },
      PR_CHECKS_FAILED: reviewRebuild,
      PR_MERGED: { target: 'verifying', actions: 'recordMerge' },
      PR_CLOSED: { target: ESCALATED, actions: escalate('PR_CLOSED', 'SHIP') },
      REPLAY: { target: 'pr_merging', reenter: true },
    },
  },
} as const;

export const ticketMachine = machineSetup.createMachine({
  id: 'ticket',
  initial: 'QUEUED',
  context: ({ input }) => ({
    ...(input.shipVia === 'github' ? { shipVia: 'github' as const } : {}),
    mode: input.mode ?? 'dark',
    limits: { ...DEFAULT_LIMITS, ...input.limits },
    round: 0,
    attempt: 0,
    redAttempt: 0,
    contractFailures: 0,
    costUsd: 0,
    costWindowStartUsd: 0,
    timer: 0,
    reason: null,
    detail: null,
    returnTo: null,
    blockers: [],
    planArtifactId: null,
    approvedPlan: null,
    findings: [],
    mergeCommit: null,
    redCommit: null,
    liveEvidence: null,
    humanGated: false,
    notes: 0,
  }),
  on: { NOTE: { actions: 'countNote' } },
  states: {
    QUEUED: {
      entry: 'requestSchedule',
      on: {
        START: { target: 'PLAN_DRAFT', actions: 'armBudgetTimer' },
        CANCEL: { target: 'CANCELLED', actions: 'recordCancel' },
        REPLAY: { target: 'QUEUED', reenter: true },
      },
    },
    PLAN_DRAFT: agentState('PLAN_DRAFT', '#ticket.PLAN_DRAFT', 'lead', 'plan_draft', {
      PLAN_READY: {
        target: 'PLAN_NEGOTIATE',
        actions: ['phaseSucceeded', 'recordPlan', 'startNegotiation'],
      },
      GATE_FAILED: leadEncroachment('PLAN_DRAFT'),
    }),
    PLAN_NEGOTIATE: {
      initial: 'critique',
      states: {
        critique: agentState(
          'PLAN_NEGOTIATE',
          '#ticket.PLAN_NEGOTIATE.critique',
          'validator',
          'plan_critique',
          {
            PLAN_REVIEWED: [
              {
                guard: { type: 'verdictIs', params: { verdict: 'APPROVE' } },
                target: '#ticket.PLAN_APPROVED',
                actions: 'phaseSucceeded',
              },
              { guard: 'roundsLeft', target: 'revise', actions: 'phaseSucceeded' },
              { target: ESCALATED, actions: escalate('PLAN_ROUNDS_EXHAUSTED', 'PLAN_NEGOTIATE') },
            ],
          },
        ),
        revise: agentState(
          'PLAN_NEGOTIATE',
          '#ticket.PLAN_NEGOTIATE.revise',
          'lead',
          'plan_revise',
          {
            PLAN_READY: {
              target: 'critique',
              actions: ['phaseSucceeded', 'recordPlan', 'nextRound'],
            },
            GATE_FAILED: leadEncroachment('PLAN_NEGOTIATE'),
          },
        ),
      },
    },
    PLAN_APPROVED: {
      entry: 'freezePlan',
      on: {
        ...workingState('PLAN_APPROVED'),
        PLAN_FROZEN: { target: 'RED', actions: ['recordApprovedPlan', 'startRed'] },
        REPLAY: { target: 'PLAN_APPROVED', reenter: true },
      },
    },
    RED: agentState('RED', '#ticket.RED', 'generator', 'red', {
      RED_CONFIRMED: {
        target: 'BUILD',
        actions: ['phaseSucceeded', 'recordRedCommit', 'startBuild'],
      },
      GATE_FAILED: [
        {
          guard: 'redAttemptsLeft',
          target: 'RED',
          reenter: true,
          actions: ['phaseSucceeded', 'nextRedAttempt'],
        },
        { target: ESCALATED, actions: escalate('FROM_EVENT', 'RED') },
      ],
    }),
    BUILD: agentState('BUILD', '#ticket.BUILD', 'generator', 'build', {
      BUILD_READY: { target: 'VALIDATE', actions: 'phaseSucceeded' },
      GATE_FAILED: [
        {
          guard: 'attemptsLeft',
          target: 'BUILD',
          reenter: true,
          actions: ['phaseSucceeded', 'nextAttempt', 'recordFindings'],
        },
        { target: ESCALATED, actions: escalate('FROM_EVENT', 'BUILD') },
      ],
    }),
    VALIDATE: agentState('VALIDATE', '#ticket.VALIDATE', 'validator', 'validate', {
      VERDICT: [
        {
          guard: { type: 'verdictIs', params: { verdict: 'PASS' } },
          target: 'SHIP',
          actions: 'phaseSucceeded',
        },
        {
          guard: 'attemptsLeft',
          target: 'BUILD',
          actions: ['phaseSucceeded', 'nextAttempt', 'recordFindings'],
        },
        {
          target: ESCALATED,
          actions: ['recordFindings', escalate('ATTEMPTS_EXHAUSTED', 'VALIDATE')],
        },
      ],
    }),
    SHIP: {
      initial: 'route',
      on: workingState('SHIP'),
      states: {
        route: {
          always: [
            { guard: 'merged', target: 'verifying' },
            { guard: 'github', target: 'publishing' },
            { guard: 'copilot', target: 'awaiting_approval' },
            { target: 'merging' },
          ],
        },
        awaiting_approval: {
          on: {
            APPROVE: { target: 'merging' },
            REJECT: { target: '#ticket.CANCELLED', actions: 'recordCancel' },
          },
        },
        merging: {
          entry: 'mergeBranch',
          on: {
            ...mergeOutcomes,
            CHECKOUT_DIRTY: { target: 'waiting_checkout', actions: 'waitForCheckout' },
            REPLAY: { target: 'merging', reenter: true },
          },
        },
        ...githubShipStates,
        // The user's checkout of the base branch is dirty: the merge job polls until it is clean
        // (no journal row per poll), then reports like `merging` does.
        waiting_checkout: {
          entry: 'mergeBranch',
          on: {
            ...mergeOutcomes,
            MERGED: { target: 'verifying', actions: ['recordMerge', 'clearWaiting'] },
            REPLAY: { target: 'waiting_checkout', reenter: true },
          },
        },
        verifying: {
          entry: 'runLiveCheck',
          on: {
            LIVE_CHECK_PASSED: { target: '#ticket.LIVE', actions: 'recordLiveEvidence' },
            LIVE_CHECK_FAILED: {
              target: ESCALATED,
              actions: escalate('LIVE_CHECK_FAILED', 'SHIP'),
            },
            REPLAY: { target: 'verifying', reenter: true },
          },
        },
      },
    },
    BLOCKED: {
      on: {
        UNBLOCK: RESUMABLE_STATES.map((state) => ({
          guard: { type: 'returnsTo', params: { states: [state] } },
          target: state,
          actions: 'unblock',
        })),
        CANCEL: { target: 'CANCELLED', actions: 'recordCancel' },
      },
    },
    ESCALATED: {
      on: {
        APPROVE: approveEscalation,
        RETRY: retryEscalation,
        REJECT: { target: 'CANCELLED', actions: 'recordCancel' },
        CANCEL: { target: 'CANCELLED', actions: 'recordCancel' },
      },
    },
    DEAD_LETTER: {
      on: {
        RETRY: retryEscalation,
        CANCEL: { target: 'CANCELLED', actions: 'recordCancel' },
      },
    },
    LIVE: {
      entry: ['notifyDependents', 'releaseWorkspace'],
      on: { REPLAY: { target: 'LIVE', reenter: true } },
    },
    CANCELLED: {
      entry: ['notifyDependents', 'releaseWorkspace'],
      on: { REPLAY: { target: 'CANCELLED', reenter: true } },
    },
  },
});

export type TicketMachine = typeof ticketMachine;

/** The top-level state of a snapshot value (`{ SHIP: 'merging' }` -> `'SHIP'`). */
export function topState(value: unknown): TicketState {
  const name = typeof value === 'string' ? value : Object.keys(value as object)[0];
  if (!name || !(TOP_STATES as readonly string[]).includes(name))
    throw new Error(`not a ticket state: ${JSON.stringify(value)}`);
  return name as TicketState;
}

/** The nested step of a snapshot value (`{ SHIP: 'merging' }` -> `'merging'`), or null. */
export function subState(value: unknown): string | null {
  if (typeof value === 'string') return null;
  const inner = Object.values(value as Record<string, unknown>)[0];
  return typeof inner === 'string' ? inner : null;
}
