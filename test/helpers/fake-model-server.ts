/**
 * A fake model server on 127.0.0.1 that speaks just enough of the Anthropic Messages API (for the
 * real `claude` CLI) and of the OpenAI Responses API (for the real `codex` CLI) to carry each
 * through a turn: plain text, a tool call, or an API error. Tests script the replies; every request
 * is recorded so a test can assert on what the CLI sent.
 *
 * Pointing the CLIs at it: Claude Code takes `ANTHROPIC_BASE_URL=server.url` (plus a dummy
 * `ANTHROPIC_API_KEY` and `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`); Codex takes
 * `-c model_providers.fake={ name = "fake", base_url = "<server.openaiBaseUrl>", wire_api =
 * "responses",
 * env_key = "OPENAI_API_KEY" } -c model_provider="fake"`. Script failures as 4xx: both CLIs retry
 * 5xx answers with backoff, which makes a test slow rather than failed.
 *
 * @example
 * const server = await startFakeModelServer({ anthropic: [toolCall('Write', { file_path, content
 * }), text('done')] });
 * // ANTHROPIC_BASE_URL=server.url ... claude -p ...
 * await server.close();
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted model reply. */
export type FakeTurn =
  | { readonly kind: 'text'; readonly text: string; readonly usage?: FakeUsage }
  | {
      readonly kind: 'tool';
      readonly name: string;
      readonly input: unknown;
      readonly usage?: FakeUsage;
      /**
       * OpenAI only: the tool namespace Codex groups an MCP server's tools under (`mcp__<server>`).
       */
      readonly namespace?: string;
    }
  | {
      readonly kind: 'error';
      readonly status: number;
      readonly errorType: string;
      readonly message: string;
    };

export interface FakeUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens?: number;
  readonly cacheCreationTokens?: number;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
}

export interface FakeModelServerOptions {
  /** Replies to POST /v1/messages in order; once exhausted, the last one repeats. */
  readonly anthropic?: readonly FakeTurn[];
  /** Replies to POST /v1/responses in order; once exhausted, the last one repeats. */
  readonly openai?: readonly FakeTurn[];
  /**
   * Hold the first model reply this long (Codex builds each request's tool list from the MCP
   * servers connected by then; a slow first turn lets them finish starting).
   */
  readonly firstReplyDelayMs?: number;
}

export interface FakeModelServer {
  /** `http://127.0.0.1:PORT`: the value for ANTHROPIC_BASE_URL. */
  readonly url: string;
  /** `http://127.0.0.1:PORT/v1`: the base_url for an OpenAI-compatible provider. */
  readonly openaiBaseUrl: string;
  readonly requests: readonly RecordedRequest[];
  /** Requests that asked the model for a turn (not count_tokens or probes). */
  turnRequests(api: 'anthropic' | 'openai'): readonly RecordedRequest[];
  close(): Promise<void>;
}

export const DEFAULT_USAGE: FakeUsage = {
  inputTokens: 120,
  outputTokens: 30,
  cacheReadTokens: 7,
  cacheCreationTokens: 5,
};

export const text = (body: string, usage?: FakeUsage): FakeTurn => ({
  kind: 'text',
  text: body,
  ...(usage ? { usage } : {}),
});
export const toolCall = (name: string, input: unknown, usage?: FakeUsage): FakeTurn => ({
  kind: 'tool',
  name,
  input,
  ...(usage ? { usage } : {}),
});
/** A call of an MCP tool as Codex names it: function `tool` in namespace `mcp__<server>`. */
export const namespacedToolCall = (namespace: string, name: string, input: unknown): FakeTurn => ({
  kind: 'tool',
  name,
  input,
  namespace,
});
export const apiError = (status: number, errorType: string, message: string): FakeTurn => ({
  kind: 'error',
  status,
  errorType,
  message,
});

/** Start the server on an ephemeral loopback port. */
export async function startFakeModelServer(
  options: FakeModelServerOptions = {},
): Promise<FakeModelServer> {
  const requests: RecordedRequest[] = [];
  const cursors = { anthropic: 0, openai: 0 };
  const next = (api: 'anthropic' | 'openai'): FakeTurn => {
    const turns = options[api] ?? [text('ok')];
    const turn = turns[Math.min(cursors[api], turns.length - 1)] ?? text('ok');
    cursors[api] += 1;
    return turn;
  };

  let delayed = false;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = parseJson(raw);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
      const isTurn = req.method === 'POST' && (path === '/v1/messages' || path === '/v1/responses');
      const delay = isTurn && !delayed ? (options.firstReplyDelayMs ?? 0) : 0;
      if (isTurn) delayed = true;
      setTimeout(() => route(req.method ?? 'GET', path, body, res, next), delay);
    });
  });
  // Keep-alive sockets would hold close() open until the CLI's agent gives up on them.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    openaiBaseUrl: `${url}/v1`,
    requests,
    turnRequests: (api) =>
      requests.filter(
        (r) =>
          r.method === 'POST' &&
          r.path === (api === 'anthropic' ? '/v1/messages' : '/v1/responses'),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function route(
  method: string,
  path: string,
  body: unknown,
  res: http.ServerResponse,
  next: (api: 'anthropic' | 'openai') => FakeTurn,
): void {
  if (method === 'POST' && path === '/v1/messages')
    return void replyAnthropic(res, next('anthropic'), body);
  if (method === 'POST' && path === '/v1/messages/count_tokens')
    return void sendJson(res, 200, { input_tokens: 100 });
  if (method === 'POST' && path === '/v1/responses')
    return void replyOpenai(res, next('openai'), body);
  if (method === 'GET' && path === '/v1/models')
    return void sendJson(res, 200, { object: 'list', data: [], has_more: false });
  if (method === 'HEAD' || (method === 'GET' && path === '/')) return void sendJson(res, 200, {});
  sendJson(res, 404, {
    type: 'error',
    error: { type: 'not_found_error', message: `fake model server: no route ${method} ${path}` },
  });
}

// ---------------------------------------------------------------- Anthropic Messages API

function replyAnthropic(res: http.ServerResponse, turn: FakeTurn, request: unknown): void {
  if (turn.kind === 'error') {
    return void sendJson(res, turn.status, {
      type: 'error',
      error: { type: turn.errorType, message: turn.message },
    });
  }
  const model = field(request, 'model') ?? 'fake-model';
  const usage = turn.usage ?? DEFAULT_USAGE;
  const id = `msg_fake_${Math.random().toString(36).slice(2, 10)}`;
  const block =
    turn.kind === 'text'
      ? { type: 'text', text: turn.text }
      : {
          type: 'tool_use',
          id: `toolu_fake_${Math.random().toString(36).slice(2, 10)}`,
          name: turn.name,
          input: turn.input,
        };
  const stopReason = turn.kind === 'text' ? 'end_turn' : 'tool_use';
  const usageJson = {
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    cache_read_input_tokens: usage.cacheReadTokens ?? 0,
    cache_creation_input_tokens: usage.cacheCreationTokens ?? 0,
  };
  if (!isStreaming(request)) {
    return void sendJson(res, 200, {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [block],
      stop_reason: stopReason,
      stop_sequence: null,
      usage: usageJson,
    });
  }
  const events: [string, unknown][] = [
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usageJson, output_tokens: 1 },
        },
      },
    ],
  ];
  if (block.type === 'text') {
    events.push([
      'content_block_start',
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    ]);
    events.push([
      'content_block_delta',
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: block.text } },
    ]);
  } else {
    events.push([
      'content_block_start',
      { type: 'content_block_start', index: 0, content_block: { ...block, input: {} } },
    ]);
    events.push([
      'content_block_delta',
      {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      },
    ]);
  }
  events.push(['content_block_stop', { type: 'content_block_stop', index: 0 }]);
  events.push([
    'message_delta',
    {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: usage.outputTokens },
    },
  ]);
  events.push(['message_stop', { type: 'message_stop' }]);
  sendSse(res, events);
}

// ---------------------------------------------------------------- OpenAI Responses API

function replyOpenai(res: http.ServerResponse, turn: FakeTurn, request: unknown): void {
  if (turn.kind === 'error') {
    return void sendJson(res, turn.status, {
      error: { type: turn.errorType, code: turn.errorType, message: turn.message, param: null },
    });
  }
  const model = field(request, 'model') ?? 'fake-model';
  const usage = turn.usage ?? DEFAULT_USAGE;
  const responseId = `resp_fake_${Math.random().toString(36).slice(2, 10)}`;
  const itemId = `item_fake_${Math.random().toString(36).slice(2, 10)}`;
  const item =
    turn.kind === 'text'
      ? {
          type: 'message',
          id: itemId,
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: turn.text, annotations: [] }],
        }
      : {
          type: 'function_call',
          id: itemId,
          call_id: `call_fake_${Math.random().toString(36).slice(2, 10)}`,
          name: turn.name,
          ...(turn.namespace ? { namespace: turn.namespace } : {}),
          arguments: JSON.stringify(turn.input),
          status: 'completed',
        };
  const base = {
    id: responseId,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    model,
  };
  const events: [string, unknown][] = [
    [
      'response.created',
      { type: 'response.created', response: { ...base, status: 'in_progress', output: [] } },
    ],
    [
      'response.output_item.added',
      {
        type: 'response.output_item.added',
        output_index: 0,
        item: turn.kind === 'text' ? { ...item, status: 'in_progress', content: [] } : item,
      },
    ],
  ];
  if (turn.kind === 'text') {
    events.push([
      'response.output_text.delta',
      {
        type: 'response.output_text.delta',
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        delta: turn.text,
      },
    ]);
  }
  events.push([
    'response.output_item.done',
    { type: 'response.output_item.done', output_index: 0, item },
  ]);
  events.push([
    'response.completed',
    {
      type: 'response.completed',
      response: {
        ...base,
        status: 'completed',
        output: [item],
        usage: {
          input_tokens: usage.inputTokens,
          input_tokens_details: { cached_tokens: usage.cacheReadTokens ?? 0 },
          output_tokens: usage.outputTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: usage.inputTokens + usage.outputTokens,
        },
      },
    },
  ]);
  sendSse(res, events);
}

// ---------------------------------------------------------------- plumbing

function sendSse(res: http.ServerResponse, events: readonly [string, unknown][]): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'request-id': 'req_fake',
  });
  for (const [name, data] of events) res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  res.end();
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_fake' });
  res.end(JSON.stringify(body));
}

function parseJson(raw: string): unknown {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function field(body: unknown, key: string): string | undefined {
  if (body && typeof body === 'object' && key in body) {
    const value = (body as Record<string, unknown>)[key];
    return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}

function isStreaming(body: unknown): boolean {
  return Boolean(
    body && typeof body === 'object' && (body as Record<string, unknown>).stream === true,
  );
}
