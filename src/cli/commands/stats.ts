/**
 * `loopwright stats [--batch B]`: how the factory is doing, from the journal.
 */
import { getBatchByName } from '../../db/batches.js';
import { factoryStats } from '../../db/stats.js';
import { expectPositionals, nonBlank, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { printJson, printLine, printTable } from '../output.js';

export const command: Command = {
  name: 'stats',
  summary: 'interventions, agent runs and cost per ticket, time per phase, false starts',
  usage: `usage: loopwright stats [--batch <name>] [--json]

Human interventions (operator events and repins), agent runs and cost per ticket, time spent in
each phase, and false starts (fresh-agent retries, gate failures, validator FAILs, dead letters).`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, { batch: { type: 'string' } });
    expectPositionals(positionals, []);
    const db = await ctx.db();
    const name = nonBlank('--batch', values.batch);
    const batch = name ? await getBatchByName(db, name) : null;
    const stats = await factoryStats(db, batch?.id ?? null);
    if (values.json) {
      printJson(ctx.io, { batch: batch?.name ?? null, ...stats });
      return 0;
    }
    const runs = stats.perTicket.map((t) => t.agentRuns);
    const cost = stats.perTicket.reduce((a, t) => a + t.costUsd, 0);
    printLine(
      ctx.io,
      `${stats.tickets} ` +
        `tickets${batch ? ` in batch ${batch.name}` : ''}; ${runs.reduce((a, b) => a + b, 0)} ` +
        `agent runs; $${cost.toFixed(2)} agent cost`,
    );
    printLine(
      ctx.io,
      `interventions: ${
        stats.interventions.map((i) => `${i.event} ${i.count}`).join(', ') || 'none'
      }`,
    );
    printLine(
      ctx.io,
      `false starts: ${stats.falseStarts.map((f) => `${f.kind} ${f.count}`).join(', ') || 'none'}` +
        '\n',
    );
    printTable(ctx.io, stats.timePerPhase, [
      { header: 'PHASE', value: (p) => p.state },
      { header: 'TICKETS', value: (p) => p.tickets, right: true },
      { header: 'AVG S', value: (p) => p.avgSeconds, right: true },
      { header: 'TOTAL S', value: (p) => p.totalSeconds, right: true },
    ]);
    printLine(ctx.io);
    printTable(ctx.io, stats.perTicket, [
      { header: 'TICKET', value: (t) => t.ticket },
      { header: 'STATE', value: (t) => t.state },
      { header: 'RUNS', value: (t) => t.agentRuns, right: true },
      { header: 'COST $', value: (t) => t.costUsd.toFixed(2), right: true },
      { header: 'HUMAN', value: (t) => t.interventions, right: true },
    ]);
    return 0;
  },
};
