/**
 * A transcript line made readable for `loopwright logs`: Claude Code stream-json (assistant text,
 * tool calls, tool results, the result with its cost), Codex JSON events (messages, commands,
 * file changes, usage, errors) and plain command output, each as short lines. Tool results and
 * long texts are trimmed; the raw lines stay available with `--json`.
 */

const TRIM = 400;

/** The readable lines for one raw transcript line (none for protocol noise). */
export function renderTranscriptLine(raw: string): string[] {
  const event = parseObject(raw);
  if (!event) return raw.trim() ? [raw] : [];
  if (typeof event.type !== 'string') return [trim(raw)];
  return renderClaude(event) ?? renderCodex(event) ?? [];
}

function renderClaude(e: Record<string, unknown>): string[] | null {
  if (e.type === 'system') {
    if (e.subtype === 'init')
      return [`[session] model ${String(e.model ?? '?')} in ${String(e.cwd ?? '?')}`];
    if (e.subtype === 'api_retry') {
      const why = `${String(e.error ?? '')} ${e.error_status ?? ''}`;
      return [`[retry] attempt ${String(e.attempt)}: ${why}`.trim()];
    }
    return [];
  }
  if (e.type === 'assistant' || e.type === 'user') {
    const message = e.message as { content?: unknown } | undefined;
    const content = Array.isArray(message?.content) ? message.content : [];
    return content.flatMap((block: Record<string, unknown>) => {
      if (block.type === 'text' && typeof block.text === 'string')
        return [`assistant: ${trim(block.text)}`];
      if (block.type === 'tool_use')
        return [`tool ${String(block.name)}: ${trim(JSON.stringify(block.input ?? {}))}`];
      if (block.type === 'tool_result') {
        const text = Array.isArray(block.content)
          ? block.content.map((c: { text?: string }) => c.text ?? '').join(' ')
          : String(block.content ?? '');
        return [`  -> ${block.is_error ? 'error: ' : ''}${trim(text)}`];
      }
      return [];
    });
  }
  if (e.type === 'result') {
    const cost =
      typeof e.total_cost_usd === 'number' ? ` cost $${e.total_cost_usd.toFixed(4)}` : '';
    const turns = typeof e.num_turns === 'number' ? ` ${e.num_turns} turns` : '';
    const verdict = e.is_error ? `error (${String(e.subtype)})` : 'ok';
    const result = e.is_error && e.result ? `: ${trim(String(e.result))}` : '';
    return [`[result] ${verdict}${turns}${cost}${result}`];
  }
  return null;
}

function renderCodex(e: Record<string, unknown>): string[] | null {
  if (e.type === 'item.completed' || e.type === 'item.started') {
    const item = (e.item ?? {}) as Record<string, unknown>;
    if (e.type === 'item.started') return [];
    if (item.type === 'agent_message' || item.type === 'reasoning')
      return [
        `${item.type === 'reasoning' ? 'thinking' : 'assistant'}: ${trim(String(item.text ?? ''))}`,
      ];
    if (item.type === 'command_execution')
      return [
        `tool shell: ${trim(String(item.command ?? ''))}`,
        `  -> exit ${String(item.exit_code ?? '?')}: ${trim(String(item.aggregated_output ?? ''))}`,
      ];
    if (item.type === 'file_change')
      return [`tool edit: ${trim(JSON.stringify(item.changes ?? []))}`];
    if (item.type === 'error') return [`[error] ${trim(String(item.message ?? ''))}`];
    return [`[${String(item.type)}] ${trim(JSON.stringify(item))}`];
  }
  if (e.type === 'turn.completed') {
    const usage = (e.usage ?? {}) as Record<string, unknown>;
    return [
      `[turn] tokens in ${String(usage.input_tokens ?? '?')}, ` +
        `out ${String(usage.output_tokens ?? '?')}`,
    ];
  }
  if (e.type === 'turn.failed') return [`[turn failed] ${trim(JSON.stringify(e.error ?? {}))}`];
  if (e.type === 'error') return [`[error] ${trim(String(e.message ?? ''))}`];
  if (e.type === 'thread.started' || e.type === 'turn.started') return [];
  return [trim(JSON.stringify(e))];
}

function parseObject(line: string): Record<string, unknown> | null {
  const t = line.trim();
  if (!t.startsWith('{')) return null;
  try {
    const v: unknown = JSON.parse(t);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function trim(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ⏎ ').trim();
  return flat.length > TRIM ? `${flat.slice(0, TRIM - 1)}…` : flat;
}
