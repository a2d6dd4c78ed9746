/**
 * Server-sent event streams: `/events` carries every ticket move and batch change to the page
 * (from the live hub), `/tickets/:key/transcript` tails a running agent's transcript.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { getRunById } from '../db/runs.js';
import type { ConsoleDeps, ConsoleEnv } from './context.js';
import { transcriptTail } from './ticket-document.js';

const HEARTBEAT_MS = 15_000;
const TAIL_POLL_MS = 400;

/** Every live change, to one page, until it goes away. */
export function eventsStream(deps: ConsoleDeps, c: Context<ConsoleEnv>) {
  return streamSSE(c, async (stream) => {
    let id = 0;
    const queue: Promise<void>[] = [];
    const leave = deps.hub.join((m) => {
      queue.push(
        stream.writeSSE({ event: m.event, data: JSON.stringify(m.data), id: String(++id) }),
      );
    });
    const heartbeat = setInterval(
      () => void stream.write(': keep-alive\n\n').catch(() => {}),
      HEARTBEAT_MS,
    );
    await stream.writeSSE({ event: 'hello', data: '{}' });
    await new Promise<void>((resolve) => stream.onAbort(resolve));
    clearInterval(heartbeat);
    leave();
  });
}

/** The running agent's transcript from byte `from` on, as `append` events, until the run ends. */
export function transcriptStream(deps: ConsoleDeps, c: Context<ConsoleEnv>) {
  const runId = c.req.query('run') ?? '';
  const from = Number(c.req.query('from') ?? '0');
  if (!/^[0-9a-f-]{36}$/.test(runId) || !Number.isSafeInteger(from) || from < 0)
    return c.text('bad input: run must be a run id and from a byte offset\n', 400);
  return streamSSE(c, async (stream) => {
    let aborted = false;
    stream.onAbort(() => void (aborted = true));
    let offset = from;
    let checks = 0;
    let run = await getRunById(deps.db, runId);
    while (!aborted) {
      // The file is read every tick; the run's status only every few (it changes once).
      if (checks > 0 && checks % 5 === 0) run = await getRunById(deps.db, runId);
      if (!run || run.ticket_key !== c.req.param('key')) {
        await stream.writeSSE({ event: 'end', data: '{"why":"unknown run"}' });
        return;
      }
      const tail = await transcriptTail(run, deps.home, offset);
      if (tail.size > offset || tail.size < offset) {
        await stream.writeSSE({
          event: 'append',
          data: JSON.stringify({ text: tail.text, size: tail.size, reset: tail.size < offset }),
        });
        offset = tail.size;
      }
      if (run.status !== 'running') {
        await stream.writeSSE({ event: 'end', data: JSON.stringify({ why: run.status }) });
        return;
      }
      if (++checks % 40 === 0) await stream.write(': keep-alive\n\n');
      await stream.sleep(TAIL_POLL_MS);
    }
  });
}
