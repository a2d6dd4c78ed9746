/**
 * Resources: a ticket's plan and its timeline, as JSON documents a client can attach to its
 * context — `loopwright://ticket/<key>/plan` and `loopwright://ticket/<key>/timeline`.
 */
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { loadTicketView } from '../cli/ticket-view.js';
import type { Kdb } from '../db/connection.js';
import { getTicket, listTickets } from '../db/tickets.js';
import { LoopwrightError } from '../errors.js';
import { MCP_SCHEMA_VERSION } from './tool.js';
import { planOf } from './tools/read-tools.js';
import { timelineJson } from './views.js';

export const RESOURCE_TEMPLATES = [
  {
    uriTemplate: 'loopwright://ticket/{key}/plan',
    name: 'ticket-plan',
    title: "A ticket's plan",
    description:
      'The approved (frozen) plan, or the latest draft while it is negotiated; null before.',
    mimeType: 'application/json',
  },
  {
    uriTemplate: 'loopwright://ticket/{key}/timeline',
    name: 'ticket-timeline',
    title: "A ticket's timeline",
    description: 'Every journal row: event, state change, actor, reason.',
    mimeType: 'application/json',
  },
] as const;

const URI = /^loopwright:\/\/ticket\/([^/]+)\/(plan|timeline)$/;

/** The newest tickets' resources (at most 50 tickets), for resources/list. */
export async function listTicketResources(db: Kdb) {
  const tickets = (await listTickets(db))
    .sort((a, b) => b.updated_at.getTime() - a.updated_at.getTime())
    .slice(0, 50);
  return tickets.flatMap((t) =>
    (['plan', 'timeline'] as const).map((kind) => ({
      uri: `loopwright://ticket/${encodeURIComponent(t.key)}/${kind}`,
      name: `${t.key}-${kind}`,
      title: `${t.key} ${kind}: ${t.title}`.slice(0, 200),
      mimeType: 'application/json',
    })),
  );
}

/** Read one resource; an unknown ticket or URI is an InvalidParams error with one line. */
export async function readTicketResource(db: Kdb, uri: string) {
  const match = URI.exec(uri);
  if (!match)
    throw new McpError(
      ErrorCode.InvalidParams,
      `unknown resource: ${uri.slice(0, 200)} (expected loopwright://ticket/<key>/plan ` +
        `or .../timeline)`,
    );
  let key: string;
  try {
    key = decodeURIComponent(match[1]!);
  } catch {
    throw new McpError(ErrorCode.InvalidParams, `malformed ticket key in ${uri.slice(0, 200)}`);
  }
  try {
    const ticket = await getTicket(db, key);
    const document =
      match[2] === 'plan'
        ? { ticket: ticket.key, plan: await planOf(db, ticket.id) }
        : {
            ticket: ticket.key,
            timeline: (await loadTicketView(db, key)).timeline.map(timelineJson),
          };
    return {
      contents: [
        {
          uri,
          mimeType: 'application/json',
          text: JSON.stringify({ schemaVersion: MCP_SCHEMA_VERSION, ...document }, null, 2),
        },
      ],
    };
  } catch (error) {
    if (error instanceof LoopwrightError)
      throw new McpError(ErrorCode.InvalidParams, error.message);
    throw error;
  }
}
