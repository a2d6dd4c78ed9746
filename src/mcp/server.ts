/**
 * `loopwright mcp`: the factory as a Model Context Protocol server on stdio, for one orchestrator
 * session (Claude Code, Codex). Tools are declared in tools/ with zod inputs; this module lists
 * them, validates every call against its schema (one-line errors naming the field), runs it with a
 * time limit, and returns `structuredContent` plus a text rendering — redacted, so no secret or
 * database URL leaves the process. The session's actor is `operator:mcp:<clientInfo.name>`.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Kdb } from '../db/connection.js';
import { LoopwrightError } from '../errors.js';
import { logger } from '../log/logger.js';
import { packageVersion } from '../config/package-root.js';
import { mcpActor } from './actor.js';
import { firstIssue } from './inputs.js';
import { redact, secretValues } from './redact.js';
import { listTicketResources, readTicketResource, RESOURCE_TEMPLATES } from './resources.js';
import type { McpTool } from './tool.js';
import { fileTickets } from './tools/file-tickets.js';
import { OPERATOR_TOOLS } from './tools/operator-tools.js';
import { READ_TOOLS } from './tools/read-tools.js';

/** Every tool, in the order tools/list shows them. */
export const TOOLS: readonly McpTool[] = [...READ_TOOLS, fileTickets, ...OPERATOR_TOOLS];

/**
 * A tool that has not answered by then answers with an error (the session polls; nothing waits).
 */
export const TOOL_TIME_LIMIT_MS = 10_000;

export interface McpServerDeps {
  db(): Promise<Kdb>;
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  readonly timeLimitMs?: number;
}

/** Build the server (not yet connected to a transport). */
export function createMcpServer(deps: McpServerDeps): Server {
  const server = new Server(
    { name: 'loopwright', title: 'loopwright software factory', version: packageVersion() },
    {
      capabilities: { tools: {}, resources: {} },
      instructions:
        'Drive the loopwright factory: file_tickets files a dependent batch in one ' +
        'transaction; board/status/show_ticket/logs watch it; ' +
        'approve/retry/reject/cancel/replay act on escalations; only the oracle decides done. ' +
        'Tools never wait: poll.',
    },
  );
  const secrets = secretValues(deps.env);
  const listed = TOOLS.map((t) => ({
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: z.toJSONSchema(t.input, { io: 'input' }) as { type: 'object' },
    annotations: {
      title: t.title,
      readOnlyHint: t.readOnly,
      destructiveHint: t.destructive === true,
      openWorldHint: false,
    },
  }));
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listed }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const actor = mcpActor(server.getClientVersion()?.name);
    return callTool(request.params.name, request.params.arguments, deps, actor, secrets);
  });
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [...RESOURCE_TEMPLATES],
  }));
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: await listTicketResources(await deps.db()),
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const result = await readTicketResource(await deps.db(), request.params.uri);
    return deepRedact(result, secrets);
  });
  return server;
}

async function callTool(
  name: string,
  args: unknown,
  deps: McpServerDeps,
  actor: string,
  secrets: readonly string[],
): Promise<CallToolResult> {
  const tool = TOOLS.find((t) => t.name === name);
  if (!tool)
    return toolError(`unknown tool: ${name} (tools: ${TOOLS.map((t) => t.name).join(', ')})`);
  const parsed = tool.input.safeParse(args ?? {});
  if (!parsed.success) return toolError(`${name}: ${firstIssue(parsed.error)}`, secrets);
  const limit = deps.timeLimitMs ?? TOOL_TIME_LIMIT_MS;
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = tool.run(parsed.data, { db: deps.db, actor, home: deps.home });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ToolTimeoutError(name, limit)), limit);
    });
    const result = await Promise.race([run, timeout]);
    return {
      content: [{ type: 'text', text: redact(result.text, secrets) }],
      structuredContent: deepRedact(result.structured, secrets),
    };
  } catch (error) {
    if (error instanceof LoopwrightError) return toolError(`${name}: ${error.message}`, secrets);
    logger().error({ tool: name, err: error }, 'MCP tool failed');
    const message = error instanceof Error ? error.message : String(error);
    return toolError(`${name} failed: ${message}`, secrets);
  } finally {
    clearTimeout(timer);
  }
}

/** A tool that ran out of its time limit. */
export class ToolTimeoutError extends LoopwrightError {
  constructor(tool: string, ms: number) {
    super(
      'TOOL_TIMEOUT',
      `no answer within ${Math.round(ms / 1000)} s (tools never wait; call ${tool} again, or ` +
        `board to see where things are)`,
    );
  }
}

function toolError(message: string, secrets: readonly string[] = []): CallToolResult {
  const line = redact(message, secrets)
    .replace(/\s*\n\s*/g, ' ')
    .slice(0, 2000);
  return { isError: true, content: [{ type: 'text', text: line }] };
}

/** Every string inside `value` redacted; Dates become ISO strings. */
export function deepRedact<T>(value: T, secrets: readonly string[]): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redact(v, secrets);
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
