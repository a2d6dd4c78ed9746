/**
 * The shape of one MCP tool: a zod input schema (the boundary check and the advertised JSON
 * Schema), whether it only reads, and a handler that returns a structured answer plus its text
 * rendering. Handlers throw {@link BadInputError} (or its kin) for anything the caller got wrong;
 * the server turns every throw into an MCP tool error with one line.
 */
import type { z } from 'zod';
import { SCHEMA_VERSION } from '../cli/json-contract.js';
import type { Kdb } from '../db/connection.js';

/** The CLI's JSON contract version: structured answers follow the same contract. */
export const MCP_SCHEMA_VERSION = SCHEMA_VERSION;

/** What a tool handler may use. */
export interface ToolContext {
  /** The migrated database (opened on first use). */
  db(): Promise<Kdb>;
  /** `operator:mcp:<client name>`, journaled on every change a tool makes. */
  readonly actor: string;
  /** LOOPWRIGHT_HOME: transcripts and worktrees live under it. */
  readonly home: string;
}

/** A tool's answer: `structured` becomes `structuredContent`, `text` the text content. */
export interface ToolAnswer {
  readonly structured: Record<string, unknown>;
  readonly text: string;
}

export interface McpTool<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly input: S;
  /** True when the tool never changes stored state. */
  readonly readOnly: boolean;
  /** True when the change cannot be undone by the operator (cancel, reject). */
  readonly destructive?: boolean;
  run(input: z.output<S>, ctx: ToolContext): Promise<ToolAnswer>;
}

/** Declare a tool with its input type inferred from the schema. */
export function defineTool<S extends z.ZodType>(tool: McpTool<S>): McpTool {
  return tool as unknown as McpTool;
}

/** A structured answer stamped with the schema version. */
export function answer(structured: Record<string, unknown>, text: string): ToolAnswer {
  return { structured: { schemaVersion: MCP_SCHEMA_VERSION, ...structured }, text };
}
