/**
 * The console's routes (Hono): board, ticket page, "needs a person", batches, the live streams, the
 * operator actions, and the two static files. Everything passes the guard first (guard.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie } from 'hono/cookie';
import { loadAttention } from '../db/attention.js';
import { boardFilters, loadBoard } from '../db/board.js';
import { getBatchByName, listBatchEvents, listBatchSummaries } from '../db/batches.js';
import { factoryStats } from '../db/stats.js';
import { isBadInput } from '../errors.js';
import { judgeBatch } from '../oracle/oracle.js';
import { handleAction } from './actions.js';
import type { ConsoleDeps, ConsoleEnv } from './context.js';
import { createGuard } from './guard.js';
import { html, type HtmlValue } from './html.js';
import { FLASH_COOKIE } from './security.js';
import { staticDir } from './static-dir.js';
import { eventsStream, transcriptStream } from './streams.js';
import { loadTicketDocument } from './ticket-document.js';
import { renderAttention } from './views/attention.js';
import { renderBatch, renderBatchList } from './views/batch.js';
import { renderBoard } from './views/board.js';
import { renderPage, type PageOptions } from './views/layout.js';
import { renderTicketDocument } from './views/ticket.js';

const ASSETS = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
} as const;

/** A filter value from the query string: a name, or undefined. */
function nameParam(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v && v.length <= 100 ? v : undefined;
}

function readFlash(c: Context<ConsoleEnv>): PageOptions['flash'] {
  const raw = getCookie(c, FLASH_COOKIE);
  if (!raw) return null;
  deleteCookie(c, FLASH_COOKIE, { path: '/' });
  try {
    const f = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as {
      ok?: unknown;
      text?: unknown;
    };
    return typeof f.text === 'string' ? { ok: f.ok === true, text: f.text.slice(0, 500) } : null;
  } catch {
    return null;
  }
}

export function createConsoleApp(deps: ConsoleDeps): Hono<ConsoleEnv> {
  const app = new Hono<ConsoleEnv>();
  const assets = Object.fromEntries(
    Object.keys(ASSETS).map((name) => [name, readFileSync(path.join(staticDir(), name), 'utf8')]),
  ) as Record<keyof typeof ASSETS, string>;
  const page = async (
    c: Context<ConsoleEnv>,
    o: Omit<PageOptions, 'attention' | 'flash'>,
    status: 200 | 404 = 200,
    waiting?: Promise<number>,
  ) => {
    const attention = await (waiting ?? attentionCount());
    return c.html(renderPage({ ...o, attention, flash: readFlash(c) }).value, status);
  };
  const attentionCount = async () => (await loadAttention(deps.db)).length;
  const notFound = (c: Context<ConsoleEnv>, what: HtmlValue) =>
    page(
      c,
      { title: 'not found', page: 'missing', body: html`<h1>not found</h1><p>${what}</p>` },
      404,
    );

  app.use('*', createGuard(deps));
  app.onError((error, c) => {
    if (isBadInput(error)) return notFound(c, error.message);
    deps.logger.error({ err: error, path: c.req.path }, 'Console request failed');
    return c.text('internal error (see the console log)\n', 500);
  });
  app.notFound((c) => notFound(c, `no page at ${c.req.path}`));

  for (const [name, type] of Object.entries(ASSETS))
    app.get(`/assets/${name}`, (c) =>
      c.body(assets[name as keyof typeof ASSETS], 200, { 'Content-Type': type }),
    );

  app.get('/', async (c) => {
    const selection = {
      repo: nameParam(c.req.query('repo')),
      batch: nameParam(c.req.query('batch')),
    };
    const waiting = attentionCount();
    const [board, filters] = await Promise.all([
      loadBoard(deps.db, selection),
      boardFilters(deps.db),
    ]);
    return page(
      c,
      {
        title: 'board',
        page: 'board',
        data: { repo: selection.repo ?? '', batch: selection.batch ?? '' },
        body: renderBoard(board, filters, selection, new Date()),
      },
      200,
      waiting,
    );
  });
  app.get('/board/counts', async (c) => {
    const board = await loadBoard(deps.db, {
      repo: nameParam(c.req.query('repo')),
      batch: nameParam(c.req.query('batch')),
      perState: 0,
    });
    return c.json(board.counts);
  });
  app.get('/events', (c) => eventsStream(deps, c));

  app.get('/tickets/:key', async (c) => {
    const doc = await loadTicketDocument(deps.db, c.req.param('key'), deps.home);
    const t = doc.view.ticket;
    return page(c, {
      title: `${t.key} ${t.title}`,
      page: 'ticket',
      data: { key: t.key, id: null },
      body: renderTicketDocument(doc, { interactive: { csrf: c.get('csrfToken') } }),
    });
  });
  app.get('/tickets/:key/transcript', (c) => transcriptStream(deps, c));
  app.post('/tickets/:key/actions', (c) => handleAction(deps, c));

  app.get('/attention', async (c) => {
    const items = await loadAttention(deps.db);
    return page(c, {
      title: 'needs a person',
      page: 'attention',
      body: renderAttention(items, c.get('csrfToken'), new Date()),
    });
  });

  app.get('/batches', async (c) =>
    page(c, {
      title: 'batches',
      page: 'batches',
      body: renderBatchList(await listBatchSummaries(deps.db)),
    }),
  );
  app.get('/batches/:name', async (c) => {
    const batch = await getBatchByName(deps.db, c.req.param('name'));
    const [events, stats, oracle] = await Promise.all([
      listBatchEvents(deps.db, batch.id),
      factoryStats(deps.db, batch.id),
      judgeBatch(deps.db, batch.name, { recheck: false, home: deps.home }).catch((e: Error) => ({
        error: e.message,
      })),
    ]);
    return page(c, {
      title: `batch ${batch.name}`,
      page: 'batch',
      data: { batch: batch.id },
      body: renderBatch({
        name: batch.name,
        status: batch.status,
        stopReason: batch.stop_reason,
        pins: batch.pins as Record<string, string> | null,
        oracle,
        events,
        stats,
      }),
    });
  });
  return app;
}
