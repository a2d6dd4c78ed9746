/**
 * The vocabulary of the ticket machine: every event it understands, the reason codes it records,
 * and the roles and phases it dispatches. The zod schemas are the boundary check for events that
 * arrive from the CLI, jobs and agents; the TypeScript types are derived from them so the machine
 * and the boundary can never disagree.
 */
import { z } from 'zod';

/** Why a ticket left the happy path. Stored verbatim in the snapshot and the journal. */
export const REASON_CODES = [
  'PLAN_ROUNDS_EXHAUSTED',
  'RED_NOT_RED',
  'SCOPE_VIOLATION',
  'LEAD_ENCROACHMENT',
  'ATTEMPTS_EXHAUSTED',
  'BUDGET_EXCEEDED',
  'CONTRACT_VIOLATION',
  'VERIFIER_CHANGED',
  'LIVE_CHECK_FAILED',
  'MERGE_CONFLICT',
  'AGENT_TIMEOUT',
  /** The GitHub pull request was closed without being merged. */
  'PR_CLOSED',
  /** The agent could not start, authenticate or reach its model; the detail names the fix. */
  'AGENT_UNAVAILABLE',
  /**
   * The agent printed nothing useful for the stall period (`agentStallSeconds`) and was stopped.
   */
  'AGENT_STALLED',
  /** The test command or live check failed on the candidate merge commit; the base did not move. */
  'MERGE_CHECK_FAILED',
  /** SHIP waits: the base branch is checked out with uncommitted changes (not an escalation). */
  'CHECKOUT_DIRTY',
  /** A BUILD commit modified or deleted a test file the RED commit pinned. */
  'TESTS_CHANGED',
  /**
   * The workspace's `.git` (config, hooks, HEAD, alternates) or the ticket branch was tampered
   * with.
   */
  'WORKSPACE_TAMPERED',
  /**
   * The ticket's workspace is unusable (not a git repository, missing, unreadable); retrying will
   * not help.
   */
  'WORKSPACE_BROKEN',
  /**
   * The ticket's work kept failing with an error that is not an outage; the detail has its first
   * line.
   */
  'JOB_FAILED',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export const ROLES = ['lead', 'generator', 'validator'] as const;
export type Role = (typeof ROLES)[number];

/** The bounded job an agent is started for. */
export const PHASES = [
  'plan_draft',
  'plan_critique',
  'plan_revise',
  'red',
  'build',
  'validate',
] as const;
export type Phase = (typeof PHASES)[number];

/** Gate failures the orchestrator detects itself while an agent phase is running. */
export const GATE_REASONS = [
  'RED_NOT_RED',
  'SCOPE_VIOLATION',
  'LEAD_ENCROACHMENT',
  'TESTS_CHANGED',
  'WORKSPACE_TAMPERED',
] as const;

/** How a JOB_FAILED event escalates: a broken workspace, or any other persistent failure. */
export const JOB_FAILED_REASONS = ['WORKSPACE_BROKEN', 'JOB_FAILED'] as const;

/** How an AGENT_UNAVAILABLE event escalates: the agent could not work, or stalled. */
export const AGENT_UNAVAILABLE_REASONS = ['AGENT_UNAVAILABLE', 'AGENT_STALLED'] as const;

const runResult = {
  runId: z.string().uuid(),
  costUsd: z.number().nonnegative().default(0),
};
/**
 * Results of orchestrator work (freeze, merge, live check) are fenced by run id like agent results.
 */
const workRun = { runId: z.string().uuid() };
const note = z.string().max(4000).optional();

/** Every event the ticket machine accepts, discriminated by `type`. */
export const ticketEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('START') }),
  z.object({
    type: z.literal('PLAN_READY'),
    ...runResult,
    artifactId: z.number().int().positive(),
  }),
  z.object({
    type: z.literal('PLAN_REVIEWED'),
    ...runResult,
    verdict: z.enum(['APPROVE', 'REVISE']),
    artifactId: z.number().int().positive().optional(),
  }),
  z.object({
    type: z.literal('PLAN_FROZEN'),
    ...workRun,
    artifactId: z.number().int().positive(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  z.object({
    type: z.literal('RED_CONFIRMED'),
    ...runResult,
    /** The orchestrator's commit of the RED tests: pinned for BUILD, GREEN and VALIDATE. */
    commit: z
      .string()
      .regex(/^[0-9a-f]{40,64}$/)
      .optional(),
  }),
  z.object({ type: z.literal('BUILD_READY'), ...runResult }),
  z.object({
    type: z.literal('VERDICT'),
    ...runResult,
    verdict: z.enum(['PASS', 'FAIL']),
    findings: z.array(z.string().max(4000)).max(200).default([]),
  }),
  z.object({
    type: z.literal('GATE_FAILED'),
    ...runResult,
    reason: z.enum(GATE_REASONS),
    detail: z.string().max(8000),
  }),
  z.object({
    type: z.literal('REPORT_INVALID'),
    ...runResult,
    errors: z.array(z.string().max(4000)).min(1).max(200),
  }),
  z.object({ type: z.literal('AGENT_TIMEOUT'), ...runResult }),
  /**
   * The agent never did the work: no binary, no credentials, no model, or a stall. Not a contract
   * retry.
   */
  z.object({
    type: z.literal('AGENT_UNAVAILABLE'),
    ...runResult,
    reason: z.enum(AGENT_UNAVAILABLE_REASONS),
    detail: z.string().max(8000),
  }),
  /** The run's job failed repeatedly with a non-transient error (the worker gives up on it). */
  z.object({
    type: z.literal('JOB_FAILED'),
    ...workRun,
    reason: z.enum(JOB_FAILED_REASONS),
    detail: z.string().max(8000),
  }),
  z.object({ type: z.literal('MERGED'), ...workRun, commit: z.string().regex(/^[0-9a-f]{7,64}$/) }),
  z.object({ type: z.literal('MERGE_CONFLICT'), ...workRun, detail: z.string().max(8000) }),
  /** The candidate merge commit (never on the base) failed the test command or live check. */
  z.object({
    type: z.literal('MERGE_CHECK_FAILED'),
    ...workRun,
    commit: z.string().regex(/^[0-9a-f]{7,64}$/),
    detail: z.string().max(8000),
  }),
  /** The user's checkout of the base branch is dirty; SHIP waits until it is clean. */
  z.object({
    type: z.literal('CHECKOUT_DIRTY'),
    ...workRun,
    path: z.string().min(1).max(4096),
    detail: z.string().max(8000),
  }),
  z.object({ type: z.literal('LIVE_CHECK_PASSED'), ...workRun, evidence: z.string().max(8000) }),
  z.object({ type: z.literal('LIVE_CHECK_FAILED'), ...workRun, detail: z.string().max(8000) }),
  z.object({
    type: z.literal('BUDGET_EXCEEDED'),
    kind: z.enum(['time', 'cost']),
    /** Which arming of the wall-clock timer fired; a stale arming is not accepted. */
    timer: z.number().int().nonnegative().optional(),
    detail: z.string().max(4000).optional(),
  }),
  z.object({ type: z.literal('VERIFIER_CHANGED'), detail: z.string().max(8000) }),
  z.object({ type: z.literal('BLOCK'), blockers: z.array(z.string().min(1)).min(1) }),
  z.object({ type: z.literal('UNBLOCK') }),
  z.object({ type: z.literal('APPROVE'), reason: note }),
  z.object({ type: z.literal('RETRY'), reason: note }),
  z.object({ type: z.literal('REJECT'), reason: note }),
  z.object({ type: z.literal('CANCEL'), reason: note }),
  z.object({ type: z.literal('NOTE'), text: z.string().min(1).max(4000) }),
  z.object({ type: z.literal('REPLAY') }),
  // The GitHub SHIP path (src/integrations/github): the PR is the reporting work's result; the
  // review, merge and close arrive later from webhooks or polling, keyed by their GitHub ids.
  z.object({
    type: z.literal('PR_OPENED'),
    ...workRun,
    number: z.number().int().positive(),
    url: z.string().max(2000),
  }),
  z.object({ type: z.literal('PR_APPROVED'), reviewId: z.number().int().nonnegative() }),
  z.object({
    type: z.literal('PR_CHANGES_REQUESTED'),
    reviewId: z.number().int().nonnegative(),
    findings: z.array(z.string().max(4000)).min(1).max(200),
  }),
  z.object({
    type: z.literal('PR_CHECKS_FAILED'),
    ...workRun,
    findings: z.array(z.string().max(4000)).min(1).max(200),
  }),
  z.object({ type: z.literal('PR_MERGED'), commit: z.string().regex(/^[0-9a-f]{7,64}$/) }),
  z.object({ type: z.literal('PR_CLOSED'), detail: z.string().max(4000).optional() }),
]);

/** An event as the machine sees it (defaults applied). */
export type TicketEvent = z.output<typeof ticketEventSchema>;
/** An event as a caller may write it (defaults optional). */
export type TicketEventInput = z.input<typeof ticketEventSchema>;
export type TicketEventType = TicketEvent['type'];

/**
 * Events that report the result of dispatched work (an agent run, a plan freeze, a merge, a live
 * check); they must carry the ticket's current run id, so a stale run can never move the ticket.
 */
export const RUN_RESULT_EVENTS = [
  'PLAN_READY',
  'PLAN_REVIEWED',
  'RED_CONFIRMED',
  'BUILD_READY',
  'VERDICT',
  'GATE_FAILED',
  'REPORT_INVALID',
  'AGENT_TIMEOUT',
  'AGENT_UNAVAILABLE',
  'JOB_FAILED',
  'PLAN_FROZEN',
  'MERGED',
  'MERGE_CONFLICT',
  'MERGE_CHECK_FAILED',
  'CHECKOUT_DIRTY',
  'LIVE_CHECK_PASSED',
  'LIVE_CHECK_FAILED',
  'PR_OPENED',
  'PR_CHECKS_FAILED',
] as const satisfies readonly TicketEventType[];

/** Events a tracker integration sends (a webhook delivery or a poll saw them on GitHub). */
export const INTEGRATION_EVENTS = [
  'PR_APPROVED',
  'PR_CHANGES_REQUESTED',
  'PR_MERGED',
  'PR_CLOSED',
] as const satisfies readonly TicketEventType[];

/** Events only a human operator sends; they are journaled with the operator as actor. */
export const OPERATOR_EVENTS = [
  'APPROVE',
  'RETRY',
  'REJECT',
  'CANCEL',
  'NOTE',
  'REPLAY',
] as const satisfies readonly TicketEventType[];

/** True when the event reports a run's result and so must pass the run fence. */
export function isRunResult(event: TicketEvent): event is Extract<TicketEvent, { runId: string }> {
  return (RUN_RESULT_EVENTS as readonly string[]).includes(event.type);
}
