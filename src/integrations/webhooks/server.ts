/**
 * The webhook receiver (`loopwright run --webhook-port N`, integrations lane): `POST
 * /webhooks/github` verified with `X-Hub-Signature-256` (@octokit/webhooks) and `POST
 * /webhooks/linear` verified with `linear-signature` and the signed `webhookTimestamp` window
 * (@linear/sdk's LinearWebhookClient). Refusals change nothing: 401 unsigned or badly signed or
 * expired, 400 malformed, 413 oversized, 409 a replayed delivery id, 503 a source whose secret is
 * not configured. An accepted delivery is stored (delivery id unique) and its processing job
 * enqueued in one transaction, then answered 202; the job acts on it (src/integrations/jobs.ts).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Kdb } from '../../db/connection.js';
import { insertDelivery } from '../../db/integrations.js';
import { inTransaction } from '../../engine/transaction.js';
import { enqueueJobs } from '../../engine/work.js';
import { readSecret } from '../credentials.js';

/** Largest body accepted (GitHub caps payloads at 25 MB; ours are small). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DELIVERY_TASK = 'integration_delivery';

export interface WebhookServerOptions {
  readonly db: Kdb;
  readonly port: number;
  readonly host?: string;
  readonly logger: Logger;
  readonly maxBodyBytes?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface WebhookServer {
  readonly url: string;
  close(): Promise<void>;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startWebhookServer(o: WebhookServerOptions): Promise<WebhookServer> {
  const max = o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: Record<string, unknown>) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify(body));
    };
    handle(req, o, max)
      .then((r) => reply(202, r))
      .catch((error: unknown) => {
        if (error instanceof Refusal) {
          o.logger.warn(
            { path: req.url, status: error.status, why: error.message },
            'Webhook refused',
          );
          reply(error.status, { error: error.message });
          // Drain what is left of a refused body without keeping it.
          req.resume();
          return;
        }
        o.logger.error({ err: error, path: req.url }, 'Webhook failed');
        reply(500, { error: 'internal error' });
      });
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address() as AddressInfo;
  o.logger.info({ port: address.port }, 'Webhook receiver listening');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  req: http.IncomingMessage,
  o: WebhookServerOptions,
  max: number,
): Promise<Record<string, unknown>> {
  const route = (req.url ?? '').split('?')[0];
  const source =
    route === '/webhooks/github' ? 'github' : route === '/webhooks/linear' ? 'linear' : null;
  if (!source) throw new Refusal(404, 'no such endpoint');
  if (req.method !== 'POST') throw new Refusal(405, 'POST only');
  const secret = readSecret(
    source === 'github' ? 'GITHUB_WEBHOOK_SECRET' : 'LINEAR_WEBHOOK_SECRET',
    o.env,
  );
  if (!secret) throw new Refusal(503, `${source} webhooks are not configured`);
  const raw = await readBody(req, max);
  const verified =
    source === 'github'
      ? await verifyGithub(req, raw, secret)
      : await verifyLinear(req, raw, secret);
  const stored = await inTransaction(o.db, async (trx) => {
    const row = await insertDelivery(trx, { source, ...verified });
    if (!row) return null;
    await enqueueJobs(trx, [
      {
        identifier: DELIVERY_TASK,
        payload: { deliveryId: row.id },
        job_key: `lw:delivery:${row.id}`,
        delay_seconds: 0,
        max_attempts: 10,
        priority: 0,
      },
    ]);
    return row;
  });
  if (!stored) throw new Refusal(409, `delivery ${verified.deliveryId} was already received`);
  o.logger.info(
    { source, delivery: verified.deliveryId, event: verified.event },
    'Webhook accepted',
  );
  return { accepted: true, delivery: verified.deliveryId };
}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max)
    return Promise.reject(new Refusal(413, `body larger than ${max} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(new Refusal(413, `body larger than ${max} bytes`));
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface Verified {
  readonly deliveryId: string;
  readonly event: string;
  readonly payload: object;
}

function header(req: http.IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  const one = Array.isArray(value) ? value[0] : value;
  return one && one.length <= 500 ? one : null;
}

async function verifyGithub(
  req: http.IncomingMessage,
  raw: Buffer,
  secret: string,
): Promise<Verified> {
  const signature = header(req, 'x-hub-signature-256');
  if (!signature) throw new Refusal(401, 'missing X-Hub-Signature-256');
  const text = raw.toString('utf8');
  // The SDKs load with the first delivery, not with every `loopwright run`.
  const { Webhooks } = await import('@octokit/webhooks');
  const ok = await new Webhooks({ secret }).verify(text, signature).catch(() => false);
  if (!ok) throw new Refusal(401, 'bad signature');
  const payload = parseObject(text);
  const deliveryId = header(req, 'x-github-delivery');
  const event = header(req, 'x-github-event');
  if (!deliveryId || !event || !/^[\w.-]{1,100}$/.test(event))
    throw new Refusal(400, 'missing X-GitHub-Delivery or X-GitHub-Event');
  return { deliveryId, event, payload };
}

async function verifyLinear(
  req: http.IncomingMessage,
  raw: Buffer,
  secret: string,
): Promise<Verified> {
  const signature = header(req, 'linear-signature');
  if (!signature) throw new Refusal(401, 'missing linear-signature');
  const text = raw.toString('utf8');
  const { LinearWebhookClient } = await import('@linear/sdk/webhooks');
  let payload: Record<string, unknown>;
  try {
    payload = new LinearWebhookClient(secret).parseData(raw, signature) as unknown as Record<
      string,
      unknown
    >;
  } catch (error) {
    if (error instanceof SyntaxError) {
      // The SDK parses after the HMAC matched: a signed body that is not JSON.
      throw new Refusal(400, 'body is not JSON');
    }
    throw new Refusal(401, `bad signature or timestamp: ${(error as Error).message}`);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw new Refusal(400, 'body is not a JSON object');
  const deliveryId =
    header(req, 'linear-delivery') ?? createHash('sha256').update(text).digest('hex');
  const type = typeof payload.type === 'string' ? payload.type : 'unknown';
  const action = typeof payload.action === 'string' ? payload.action : 'unknown';
  return { deliveryId, event: `${type}.${action}`.slice(0, 100), payload };
}

function parseObject(text: string): object {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Refusal(400, 'body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Refusal(400, 'body is not a JSON object');
  return value;
}
