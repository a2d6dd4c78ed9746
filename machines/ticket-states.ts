/**
 * The ticket machine's top-level states, as stored verbatim in `tickets.state`. Plain data with no
 * imports, so that listing or sorting states (the CLI's `status`) does not load xstate and zod.
 */
export const TOP_STATES = [
  'QUEUED',
  'PLAN_DRAFT',
  'PLAN_NEGOTIATE',
  'PLAN_APPROVED',
  'RED',
  'BUILD',
  'VALIDATE',
  'SHIP',
  'LIVE',
  'BLOCKED',
  'ESCALATED',
  'DEAD_LETTER',
  'CANCELLED',
] as const;
export type TicketState = (typeof TOP_STATES)[number];
