/**
 * `loopwright logs <ticket> [--run ID] [--follow] [--json]`: a run's transcript, rendered readably
 * (assistant messages, tool calls, trimmed tool results, the result and its cost), then the gates
 * the orchestrator ran for the ticket. `--json` gives the raw lines. Only transcripts inside
 * LOOPWRIGHT_HOME are read, and secrets are redacted.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { resolveHome } from '../../config/home.js';
import { listRuns } from '../../db/runs.js';
import { getTicket } from '../../db/tickets.js';
import { BadInputError } from '../../errors.js';
import { readTranscriptTail } from '../../mcp/transcript.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { loadTicketView } from '../ticket-view.js';
import { formatDuration, printJson, printLine } from '../output.js';
import { renderTranscriptLine } from '../transcript-render.js';

const MAX_BYTES = 8 * 1024 * 1024;

export const command: Command = {
  name: 'logs',
  summary: "a ticket's agent transcripts, readable (raw with --json)",
  usage: `usage: loopwright logs <ticket> [--run ID] [--follow] [--json]

Prints the transcript of the ticket's latest agent run (or --run ID, a run id or its first
characters, see loopwright show): assistant messages, tool calls, trimmed tool results, the
result with its cost; then the gates the orchestrator ran (RED, GREEN, checks, live) with their
exit codes. --follow keeps printing while the run is still running. --json: the raw lines.
Transcripts live under $LOOPWRIGHT_HOME/runs/<ticket>/<run>.jsonl.`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      run: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
    });
    const [key] = expectPositionals(positionals, ['<ticket>']);
    const db = await ctx.db();
    const ticket = await getTicket(db, key!);
    const runs = await listRuns(db, ticket.id);
    const wanted = values.run?.trim();
    const run = wanted
      ? runs.find((r) => r.id === wanted || (wanted.length >= 4 && r.id.startsWith(wanted)))
      : runs.at(-1);
    if (wanted && !run) throw new BadInputError(`unknown run for ${ticket.key}: ${wanted}`);
    const home = resolveHome(ctx.io.env);
    const secrets = ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GITHUB_TOKEN', 'LINEAR_API_KEY']
      .map((n) => ctx.io.env[n])
      .filter((v): v is string => typeof v === 'string' && v.length >= 8);
    const tail = run
      ? await readTranscriptTail(run.transcript_path, home, MAX_BYTES, secrets)
      : { path: null, sizeBytes: 0, truncated: false, lines: [] as string[] };
    if (values.json) {
      printJson(ctx.io, {
        ticket: ticket.key,
        run: run
          ? {
              id: run.id,
              role: run.role,
              phase: run.phase,
              status: run.status,
              cost_usd: run.cost_usd,
            }
          : null,
        runs: runs.map((r) => r.id),
        transcript: tail,
      });
      return 0;
    }
    if (!run) {
      printLine(ctx.io, `${ticket.key} has no agent runs yet`);
      return 0;
    }
    const cost = run.cost_usd !== null ? `, $${Number(run.cost_usd).toFixed(4)}` : '';
    printLine(
      ctx.io,
      `${ticket.key} run ${run.id} (${run.role}, ${run.phase}, ${run.status}${cost})` +
        (tail.truncated ? ' [start cut]' : ''),
    );
    for (const line of tail.lines)
      for (const out of renderTranscriptLine(line)) printLine(ctx.io, out);
    if (values.follow)
      await follow(ctx, run.id, ticket.id, run.transcript_path, home, secrets, tail.sizeBytes);
    const view = await loadTicketView(db, ticket.key);
    if (view.gates.length) {
      printLine(ctx.io);
      printLine(ctx.io, 'gates');
      for (const g of view.gates)
        printLine(
          ctx.io,
          (
            `  ${g.gate}  ${g.passed ? 'passed' : 'FAILED'}  ` +
            `exit ${g.exit_code ?? '-'}  ${formatDuration(g.duration_ms)}  ${g.command ?? ''}`
          ).trimEnd(),
        );
    }
    return 0;
  },
};

/** Print lines as they are appended, until the run is no longer running. */
async function follow(
  ctx: Parameters<Command['run']>[1],
  runId: string,
  ticketId: string,
  file: string | null,
  home: string,
  secrets: readonly string[],
  seen: number,
): Promise<void> {
  let offset = seen;
  for (;;) {
    const runs = await listRuns(await ctx.db(), ticketId);
    const running = runs.find((r) => r.id === runId)?.status === 'running';
    const tail = await readTranscriptTail(file, home, MAX_BYTES, secrets);
    if (tail.sizeBytes > offset) {
      // One byte more: the newline before `offset`, so the dropped "partial first line" is empty.
      const fresh = await readTranscriptTail(file, home, tail.sizeBytes - offset + 1, secrets);
      for (const line of fresh.lines)
        for (const out of renderTranscriptLine(line)) printLine(ctx.io, out);
      offset = tail.sizeBytes;
    }
    if (!running) return;
    await delay(500);
  }
}
