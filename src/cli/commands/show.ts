/**
 * `loopwright show <ticket>`: where a ticket is, what it waits for, how it got there.
 */
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { CliIo, Command } from '../command.js';
import {
  formatDuration,
  formatTime,
  printFields,
  printJson,
  printLine,
  printTable,
  truncate,
} from '../output.js';
import { loadTicketView, type TicketView } from '../ticket-view.js';
import { resolveHome } from '../../config/home.js';
import { BadInputError } from '../../errors.js';

function printHeader(io: CliIo, view: TicketView): void {
  const t = view.ticket;
  const deps = (rows: TicketView['dependencies']) =>
    rows.map((d) => `${d.key} (${d.state})`).join(', ') || '-';
  const state = t.substate ? `${t.state}.${t.substate}` : t.state;
  printLine(io, `${t.key}  ${t.title}`);
  printFields(io, [
    ['repo', t.batch ? `${t.repo} (batch ${t.batch})` : t.repo],
    ['state', t.reason ? `${state} (reason ${t.reason})` : state],
    ...(t.detail ? ([['detail', truncate(t.detail, 120)]] as const) : []),
    ['version', `${t.version} (${t.machine_version})`],
    ['attempt', t.attempt],
    ['round', t.round],
    ['cost', t.cost_usd === null ? null : `$${t.cost_usd.toFixed(2)}`],
    ['priority', t.priority],
    ['tags', t.tags],
    ['current run', t.current_run_id],
    ['depends on', deps(view.dependencies)],
    ['dependents', deps(view.dependents)],
  ]);
}

function printTimeline(io: CliIo, view: TicketView): void {
  printLine(io);
  printLine(io, 'timeline');
  printTable(io, view.timeline, [
    { header: 'SEQ', value: (r) => r.seq, right: true },
    { header: 'TIME', value: (r) => formatTime(r.at) },
    { header: 'EVENT', value: (r) => r.event },
    { header: 'FROM -> TO', value: (r) => `${r.from_state ?? '(new)'} -> ${r.to_state}` },
    { header: 'ACTOR', value: (r) => r.actor },
    {
      header: 'DETAIL',
      value: (r) => truncate([r.reason, r.detail].filter(Boolean).join(': '), 70),
    },
  ]);
}

function printRuns(io: CliIo, view: TicketView): void {
  printLine(io);
  printLine(io, 'agent runs');
  printTable(io, view.runs, [
    { header: 'ROLE', value: (r) => r.role },
    { header: 'PHASE', value: (r) => r.phase },
    { header: 'ATTEMPT', value: (r) => r.attempt, right: true },
    { header: 'STATUS', value: (r) => r.status },
    { header: 'DURATION', value: (r) => formatDuration(r.duration_ms), right: true },
    {
      header: 'COST',
      value: (r) => (r.cost_usd === null ? null : `$${r.cost_usd.toFixed(2)}`),
      right: true,
    },
    { header: 'RUN', value: (r) => r.id.slice(0, 8) },
  ]);
}

function printGates(io: CliIo, view: TicketView): void {
  if (view.gates.length === 0) return;
  printLine(io);
  printLine(io, 'gates run by the orchestrator');
  printTable(io, view.gates, [
    { header: 'TIME', value: (g) => formatTime(g.at) },
    { header: 'GATE', value: (g) => g.gate },
    {
      header: 'COMMAND RESULT',
      value: (g) =>
        g.gate === 'RED'
          ? g.passed
            ? 'passed: not RED'
            : 'failed, as RED requires'
          : g.passed
            ? 'passed'
            : 'FAILED',
    },
    { header: 'EXIT', value: (g) => g.exit_code, right: true },
    { header: 'DURATION', value: (g) => formatDuration(g.duration_ms), right: true },
    { header: 'COMMAND', value: (g) => g.command },
    { header: 'ARTIFACT', value: (g) => g.artifact_id },
  ]);
}

function printRejected(io: CliIo, view: TicketView): void {
  if (view.rejected.length === 0) return;
  printLine(io);
  printLine(io, 'rejected events');
  printTable(io, view.rejected, [
    { header: 'TIME', value: (r) => formatTime(r.at) },
    { header: 'EVENT', value: (r) => r.event },
    { header: 'ACTOR', value: (r) => r.actor },
    { header: 'REASON', value: (r) => truncate(r.reason, 90) },
  ]);
}

export const command: Command = {
  name: 'show',
  summary: "a ticket's state, dependencies, timeline, runs and rejected events",
  usage: `usage: loopwright show <ticket> [--json | --html]

Prints the ticket's header (state, version, attempt, round, escalation reason, current run),
its dependencies and dependents, the journal timeline, its agent runs, the gates the
orchestrator ran itself (RED, GREEN, repo checks, live check) and any rejected events.
  --html   the console's ticket document as one standalone HTML file on stdout (plan, timeline,
           critiques, reports, verdicts, gates with output, diff, runs; no scripts):
           loopwright show app-3 --html > app-3.html`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, { html: { type: 'boolean' } });
    const [key] = expectPositionals(positionals, ['<ticket>']);
    if (values.html && values.json) throw new BadInputError('--html and --json exclude each other');
    if (values.html) {
      const [{ loadTicketDocument }, { exportTicketHtml }] = await Promise.all([
        import('../../console/ticket-document.js'),
        import('../../console/export-html.js'),
      ]);
      const doc = await loadTicketDocument(await ctx.db(), key!, resolveHome(ctx.io.env));
      ctx.io.stdout(exportTicketHtml(doc));
      return 0;
    }
    const view = await loadTicketView(await ctx.db(), key!);
    if (values.json) {
      printJson(ctx.io, view);
      return 0;
    }
    printHeader(ctx.io, view);
    printTimeline(ctx.io, view);
    printRuns(ctx.io, view);
    printGates(ctx.io, view);
    printRejected(ctx.io, view);
    return 0;
  },
};
