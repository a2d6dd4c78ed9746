/**
 * A verified Linear webhook: a created (or updated) issue of a mapped team becomes a ticket, by
 * the same idempotent import as `loopwright linear import` (the Linear id is the key).
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Kdb } from '../../db/connection.js';
import { linkByExternal } from '../../db/integrations.js';
import { listRepositories } from '../../db/repositories.js';
import { repoSettings } from '../../config/repo-settings.js';
import { createLinear } from './client.js';
import { importLinearIssues } from './import.js';

const issuePayload = z.object({
  type: z.literal('Issue'),
  action: z.enum(['create', 'update', 'remove']),
  data: z.object({
    id: z.string().min(1).max(200),
    team: z.object({ key: z.string() }).nullish(),
    teamId: z.string().nullish(),
  }),
});

export async function handleLinearDelivery(
  db: Kdb,
  logger: Logger,
  payload: unknown,
): Promise<string> {
  const p = issuePayload.safeParse(payload);
  if (!p.success || p.data.action === 'remove') return 'ignored';
  if (await linkByExternal(db, 'linear', p.data.data.id)) return 'ignored: already a ticket';
  const linear = await createLinear();
  const issue = await linear.issue(p.data.data.id);
  const team = await issue.team;
  if (!team) return 'ignored: issue has no team';
  const mapped = (await listRepositories(db)).some(
    (r) => repoSettings(r).linear?.team.toLowerCase() === team.key.toLowerCase(),
  );
  if (!mapped) return `ignored: team ${team.key} is not mapped to a repo`;
  const results = await importLinearIssues(db, linear, {
    team: team.key,
    dryRun: false,
    actor: 'integration:linear',
    only: issue.id,
  });
  const mine = results.find((r) => r.linearId === issue.id);
  logger.info(
    { issue: issue.identifier, action: mine?.action, ticket: mine?.ticket },
    'Linear issue imported',
  );
  return `${mine?.action ?? 'skipped'} ${mine?.ticket ?? ''}`.trim();
}
