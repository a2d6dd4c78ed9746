/**
 * The journal actor of an MCP session: `operator:mcp:<client name>`, the name taken from the
 * client's `initialize` request (clientInfo.name) and reduced to a safe token, so a client cannot
 * forge another actor (`operator:mcp:x worker:...`), smuggle control characters into the journal,
 * or flood it.
 */

const MAX_NAME = 40;

/**
 * `Claude Code` -> `claude-code`; anything outside `[a-z0-9._-]` becomes `-`, runs collapse, the
 * result is at most 40 characters; an empty or missing name is `unknown`.
 *
 * @example
 * mcpActor('claude-code'); // 'operator:mcp:claude-code'
 * mcpActor('../../x\n');   // 'operator:mcp:x'
 */
export function mcpActor(clientName: string | undefined): string {
  return `operator:mcp:${sanitizeClientName(clientName)}`;
}

export function sanitizeClientName(clientName: string | undefined): string {
  const token = (clientName ?? '')
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/[-.]{2,}/g, '-')
    .replace(/^[-._]+/, '')
    .slice(0, MAX_NAME)
    .replace(/[-._]+$/, '');
  return token || 'unknown';
}
