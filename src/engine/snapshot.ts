/**
 * Converting between xstate snapshots and what Postgres stores (`{ value, context }`), and a
 * canonical JSON form so snapshots can be compared regardless of jsonb's key order.
 */
import { type AnyActorScope, createActor, type ExecutableActionsFrom } from 'xstate';
import { ticketMachine, type TicketContext, type TicketEvent } from '../../machines/ticket.js';
import type { PersistedSnapshot } from '../db/schema.js';

export type TicketSnapshot = ReturnType<typeof ticketMachine.resolveState>;
type TicketAction = ExecutableActionsFrom<typeof ticketMachine>;

let inertScope: AnyActorScope | undefined;

/**
 * xstate's pure `transition(ticketMachine, snapshot, event)`, without the throw-away actor that
 * xstate builds (and computes the machine's initial state with) on every call. The ticket machine
 * spawns and invokes nothing, so one inert scope serves every call; the actions are collected per
 * call. verify-journal replays through xstate's own `transition`, so the two are checked against
 * each other on every journal.
 *
 * @example
 * ```ts
 * const [next, actions] = transitionTicket(restoreSnapshot(stored), { type: 'START' });
 * ```
 */
export function transitionTicket(
  snapshot: TicketSnapshot,
  event: TicketEvent,
): [TicketSnapshot, TicketAction[]] {
  const scope = (inertScope ??= createInertScope());
  const actions: TicketAction[] = [];
  scope.actionExecutor = (action) => {
    actions.push(action as TicketAction);
  };
  try {
    return [ticketMachine.transition(snapshot, event, scope), actions];
  } finally {
    scope.actionExecutor = () => {};
  }
}

function createInertScope(): AnyActorScope {
  const self = createActor(ticketMachine, { input: {} });
  return {
    self,
    id: '',
    sessionId: '',
    logger: () => {},
    defer: () => {},
    emit: () => {},
    system: self.system,
    stopChild: () => {},
    actionExecutor: () => {},
  };
}

/** The storable part of a snapshot. */
export function persistSnapshot(snapshot: TicketSnapshot): PersistedSnapshot {
  return JSON.parse(
    JSON.stringify({ value: snapshot.value, context: snapshot.context }),
  ) as PersistedSnapshot;
}

/** Rebuild a live snapshot from a stored one, through the current machine. */
export function restoreSnapshot(stored: PersistedSnapshot): TicketSnapshot {
  return ticketMachine.resolveState({
    value: stored.value as never,
    context: stored.context as unknown as TicketContext,
  });
}

/** JSON with object keys sorted at every level: equal data gives equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
