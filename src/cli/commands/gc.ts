/**
 * `loopwright gc [--older-than DURATION] [--dry-run] [--json]`: prune what final tickets left on
 * disk after the retention period (src/workspace/gc.ts), and say what was freed.
 */
import { tmpdir } from 'node:os';
import { resolveHome } from '../../config/home.js';
import { BadInputError } from '../../errors.js';
import { formatBytes } from '../../workspace/disk-usage.js';
import { runGc, type GcReport, type PrunedItem } from '../../workspace/gc.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { printJson, printLine } from '../output.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/**
 * A duration flag: a whole number with a unit (`s`, `m`, `h`, `d`, `w`), or `0`.
 *
 * @example
 * parseDuration('--older-than', '14d'); // 1209600000
 * parseDuration('--older-than', '0');   // 0
 */
export function parseDuration(flag: string, raw: string): number {
  const match = /^(\d{1,6})([smhdw])?$/.exec(raw.trim());
  const unit = match?.[2] ?? (match?.[1] === '0' ? 's' : undefined);
  if (!match || !unit)
    throw new BadInputError(
      `${flag} must be a number with a unit s, m, h, d or w (e.g. 14d, 36h), got "${raw}"`,
    );
  return Number(match[1]) * UNIT_MS[unit]!;
}

const NOUNS: Readonly<Record<PrunedItem['kind'], readonly [string, string]>> = {
  transcripts: ['transcript directory', 'transcript directories'],
  workspace: ['workspace', 'workspaces'],
  branch: ['ticket branch', 'ticket branches'],
  scratch: ['scratch checkout', 'scratch checkouts'],
};

/** `freed 3.1 MiB: 2 transcript directories, 1 workspace (2 tickets)` or `nothing to prune`. */
export function describeGc(report: GcReport): string {
  if (report.items.length === 0) return 'nothing to prune';
  const counts = new Map<PrunedItem['kind'], number>();
  for (const item of report.items) counts.set(item.kind, (counts.get(item.kind) ?? 0) + 1);
  const parts = [...counts].map(([kind, n]) => `${n} ${NOUNS[kind][n === 1 ? 0 : 1]}`);
  const verb = report.dryRun ? 'would free' : 'freed';
  const tickets = report.tickets === 1 ? '1 ticket' : `${report.tickets} tickets`;
  return `${verb} ${formatBytes(report.bytes)}: ${parts.join(', ')} (${tickets})`;
}

export const command: Command = {
  name: 'gc',
  summary: "prune final tickets' transcripts, workspaces and branches after the retention period",
  usage: `usage: loopwright gc [--older-than DURATION] [--dry-run] [--json]

Removes what tickets in LIVE, CANCELLED, ESCALATED or DEAD_LETTER left on disk once they have
been in that state longer than their repository's retentionDays (default 14; loopwright repo set
REPO --set retentionDays=N): transcripts under LOOPWRIGHT_HOME/runs/<ticket>/, the ticket's
workspace clone, and its loopwright/<ticket> branch when LIVE (or CANCELLED and merged). Also
scratch checkouts older than a day that a killed process left. Database rows are kept; nothing
of a ticket in work is touched, and nothing outside loopwright's own folders. loopwright run
does this at start and every hour.

  --older-than DURATION   instead of each repository's retention, e.g. 7d, 36h, 0 (everything
                          of final tickets)
  --dry-run               list what would go, remove nothing`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {
      'older-than': { type: 'string' },
      'dry-run': { type: 'boolean' },
    });
    expectPositionals(positionals, []);
    const olderThan = values['older-than'];
    const olderThanMs =
      olderThan === undefined ? undefined : parseDuration('--older-than', olderThan);
    const db = await ctx.db();
    const report = await runGc({
      db,
      home: resolveHome(ctx.io.env),
      dryRun: values['dry-run'] === true,
      osTmpDir: ctx.io.env.TMPDIR || tmpdir(),
      ...(olderThanMs === undefined ? {} : { olderThanMs }),
    });
    if (values.json) {
      printJson(ctx.io, { ...report, count: report.items.length });
      return 0;
    }
    for (const item of report.items)
      printLine(
        ctx.io,
        `${item.kind.padEnd(11)} ${formatBytes(item.bytes).padStart(9)}  ${item.path}`,
      );
    for (const skipped of report.skipped)
      printLine(ctx.io, `kept ${skipped}: not inside loopwright's workspace folder`);
    printLine(ctx.io, describeGc(report));
    return 0;
  },
};
