/**
 * An MCP client (the SDK's Client over stdio) connected to a real `loopwright mcp` subprocess
 * (`node --import tsx src/cli/entry.ts mcp`) on a test database.
 */
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export interface McpSession {
  readonly client: Client;
  /** Call a tool; the raw result (isError, content, structuredContent). */
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  /** Call a tool expecting success; its structuredContent. */
  // biome-ignore lint/suspicious/noExplicitAny: tests index into arbitrary structured answers.
  ok(name: string, args?: Record<string, unknown>): Promise<any>;
  /** Call a tool expecting an MCP tool error; its one line. */
  fails(name: string, args?: Record<string, unknown>): Promise<string>;
  stderr(): string;
  close(): Promise<void>;
}

const ROOT = path.resolve(import.meta.dirname, '../..');

export async function connectMcp(
  env: Record<string, string>,
  clientName = 'test-client',
): Promise<McpSession> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', path.join(ROOT, 'src/cli/entry.ts'), 'mcp'],
    env,
    cwd: ROOT,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => void (stderr += chunk.toString('utf8')));
  const client = new Client({ name: clientName, version: '1.0.0' });
  await client.connect(transport);
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  return {
    client,
    call,
    async ok(name, args) {
      const result = await call(name, args);
      if (result.isError)
        throw new Error(`${name} failed: ${JSON.stringify(result.content)}\n${stderr}`);
      return result.structuredContent;
    },
    async fails(name, args) {
      const result = await call(name, args);
      if (!result.isError) throw new Error(`${name} succeeded: ${JSON.stringify(result)}`);
      const [first] = result.content as { type: string; text: string }[];
      return first!.text;
    },
    stderr: () => stderr,
    close: () => client.close(),
  };
}
