/**
 * Every top-level command, in the order `loopwright help` lists them. Modules are imported only
 * when their command runs, so `loopwright --help` does not load the database driver.
 *
 * To add a command: write `commands/<name>.ts` exporting a {@link Command} as `command`, then add
 * one row here.
 */
import type { Command, CommandEntry } from './command.js';

const lazy = (name: string, summary: string, load: () => Promise<Command>): CommandEntry => ({
  name,
  summary,
  load,
});

export const COMMANDS: readonly CommandEntry[] = [
  lazy('status', 'ticket counts per repository and state', () =>
    import('./commands/status.js').then((m) => m.command),
  ),
  lazy('show', "a ticket's state, dependencies, timeline, runs and rejected events", () =>
    import('./commands/show.js').then((m) => m.command),
  ),
  lazy('repo', 'register and list git repositories', () =>
    import('./commands/repo.js').then((m) => m.command),
  ),
  lazy('ticket', 'file, list and link tickets', () =>
    import('./commands/ticket.js').then((m) => m.command),
  ),
  lazy('oracle', 'is a batch done? re-checked against git and live checks (exit 3 if not)', () =>
    import('./commands/oracle.js').then((m) => m.command),
  ),
  lazy('stats', 'interventions, agent runs and cost per ticket, time per phase, false starts', () =>
    import('./commands/stats.js').then((m) => m.command),
  ),
  lazy('linear', 'import Linear issues as tickets', () =>
    import('./commands/linear.js').then((m) => m.command),
  ),
  lazy('batch', 'create, list, show and repin batches', () =>
    import('./commands/batch.js').then((m) => m.command),
  ),
  lazy('approve', 'let a waiting ticket past its gate (APPROVE)', () =>
    import('./commands/operator-events.js').then((m) => m.approve),
  ),
  lazy('retry', 'send an escalated or dead-lettered ticket back to work (RETRY)', () =>
    import('./commands/operator-events.js').then((m) => m.retry),
  ),
  lazy('reject', 'reject an escalated or awaiting ticket (REJECT)', () =>
    import('./commands/operator-events.js').then((m) => m.reject),
  ),
  lazy('cancel', 'cancel a ticket (CANCEL)', () =>
    import('./commands/operator-events.js').then((m) => m.cancel),
  ),
  lazy('note', "add a note to a ticket's journal (NOTE)", () =>
    import('./commands/operator-events.js').then((m) => m.note),
  ),
  lazy('logs', "a ticket's agent transcripts, readable (raw with --json)", () =>
    import('./commands/logs.js').then((m) => m.command),
  ),
  lazy('sql', 'run one SQL statement and print a table (no psql needed)', () =>
    import('./commands/sql.js').then((m) => m.command),
  ),
  lazy('doctor', 'check git, sandbox, database, agents, disk and psql; exit 1 on a blocker', () =>
    import('./commands/doctor.js').then((m) => m.command),
  ),
  lazy('replay', "re-issue a ticket's lost work, or rewind it to an earlier row", () =>
    import('./commands/replay.js').then((m) => m.command),
  ),
  lazy('verify-journal', 'replay journals through the machine and report rows that differ', () =>
    import('./commands/verify-journal.js').then((m) => m.command),
  ),
  lazy('psql', 'open psql on the database in use', () =>
    import('./commands/psql.js').then((m) => m.command),
  ),
  lazy('db', 'start, stop, locate and destroy the embedded database', () =>
    import('./commands/db.js').then((m) => m.command),
  ),
  lazy(
    'gc',
    "prune final tickets' transcripts, workspaces and branches after the retention period",
    () => import('./commands/gc.js').then((m) => m.command),
  ),
  lazy('migrate', 'apply pending database migrations', () =>
    import('./commands/migrate.js').then((m) => m.command),
  ),
  lazy('run', 'run the factory: execute queued work with disposable agents', () =>
    import('./commands/run.js').then((m) => m.command),
  ),
  lazy('console', 'serve the live web console (board, tickets, needs-a-person, batches)', () =>
    import('./commands/console.js').then((m) => m.command),
  ),
  lazy('demo', 'run three tickets through the whole lifecycle on a sample repo', () =>
    import('./commands/demo.js').then((m) => m.command),
  ),
  lazy('mcp', 'serve the factory to a Claude Code or Codex session (MCP, stdio); mcp install', () =>
    import('./commands/mcp.js').then((m) => m.command),
  ),
  lazy('help', 'show help for a command', () =>
    import('./commands/help.js').then((m) => m.createHelpCommand(COMMANDS)),
  ),
];

/** The registry row for a name, or undefined. */
export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.name === name);
}
