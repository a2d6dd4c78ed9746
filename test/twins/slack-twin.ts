/**
 * A Slack-compatible incoming webhook on node:http: records every card POSTed as JSON (`text`,
 * `blocks`), answers `ok` like Slack, and can be told to fail the next N deliveries (a 500, or
 * Slack's 429 with `retry-after`) to exercise retries.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCard {
  readonly text: string;
  readonly blocks: unknown[];
  readonly at: number;
}

export interface SlackTwin {
  readonly url: string;
  /** Cards accepted (answered 200). */
  readonly cards: SlackCard[];
  /** Every delivery attempt with the status answered. */
  readonly attempts: { status: number; text: string }[];
  /** Fail the next `times` deliveries with `status`. */
  failNext(times: number, status?: number): void;
  close(): Promise<void>;
}

export async function startSlackTwin(): Promise<SlackTwin> {
  const cards: SlackCard[] = [];
  const attempts: { status: number; text: string }[] = [];
  const failures: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: { text?: unknown; blocks?: unknown } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end('invalid_payload');
        return;
      }
      const text = typeof body.text === 'string' ? body.text : '';
      const failure = req.method === 'POST' ? failures.shift() : 405;
      if (failure) {
        attempts.push({ status: failure, text });
        res.writeHead(failure, failure === 429 ? { 'retry-after': '1' } : {});
        res.end(failure === 429 ? 'rate_limited' : 'internal_error');
        return;
      }
      if (!text) {
        attempts.push({ status: 400, text });
        res.writeHead(400).end('no_text');
        return;
      }
      attempts.push({ status: 200, text });
      cards.push({ text, blocks: Array.isArray(body.blocks) ? body.blocks : [], at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/T000/B000/XXXX`,
    cards,
    attempts,
    failNext(times, status = 500) {
      for (let i = 0; i < times; i++) failures.push(status);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
