/**
 * The integrations lane's jobs: the GitHub SHIP path (`publish_pr`, `merge_pr`) and acting on a
 * stored webhook delivery (`integration_delivery`). Only a process running the integrations lane
 * has these in its task list, so only it ever reads a token.
 */
import type { JobHelpers, Task, TaskList } from 'graphile-worker';
import type { JobDeps } from '../phases/agent-job.js';
import type { WorkPayload } from '../phases/dispatch.js';
import { getDelivery, markDeliveryProcessed } from '../db/integrations.js';
import { handleGithubDelivery } from './github/events.js';
import { mergePrJob, publishPrJob } from './github/ship-jobs.js';
import { handleLinearDelivery } from './linear/webhook.js';
import { DELIVERY_TASK } from './webhooks/server.js';

/** Task identifiers that belong to the integrations lane. */
export const INTEGRATION_TASKS = ['publish_pr', 'merge_pr', DELIVERY_TASK] as const;

export function integrationTaskList(deps: JobDeps): TaskList {
  const task =
    (handler: (payload: never, helpers: JobHelpers) => Promise<void>): Task =>
    (payload, helpers) =>
      handler(payload as never, helpers);
  return {
    publish_pr: task((p: WorkPayload) => publishPrJob(deps, p)),
    merge_pr: task((p: WorkPayload) => mergePrJob(deps, p)),
    [DELIVERY_TASK]: task((p: { deliveryId: string }) => deliveryJob(deps, p.deliveryId)),
  };
}

async function deliveryJob(deps: JobDeps, id: string): Promise<void> {
  const delivery = await getDelivery(deps.db, id);
  if (!delivery || delivery.processed_at) return;
  const outcome =
    delivery.source === 'github'
      ? await handleGithubDelivery(deps.db, deps.logger, delivery.event, delivery.payload)
      : await handleLinearDelivery(deps.db, deps.logger, delivery.payload);
  await markDeliveryProcessed(deps.db, id, outcome);
  deps.logger.info(
    { delivery: delivery.delivery_id, source: delivery.source, outcome },
    'Delivery processed',
  );
}

/** Keep only the tasks of the requested lane. */
export function tasksForLane(all: TaskList, lane: Lane): TaskList {
  if (lane === 'all') return all;
  const integration = new Set<string>(INTEGRATION_TASKS);
  return Object.fromEntries(
    Object.entries(all).filter(([name]) => integration.has(name) === (lane === 'integrations')),
  );
}

export const LANES = ['all', 'agents', 'integrations'] as const;
export type Lane = (typeof LANES)[number];
