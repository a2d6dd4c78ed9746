/**
 * `loopwright status`: the board — how many tickets each repository has in each state.
 */
import { TOP_STATES } from '../../../machines/ticket-states.js';
import { readStatus } from '../../db/status-board.js';
import { resolveHome } from '../../config/home.js';
import { describeShipMode, shipModeOf } from '../../integrations/ship-mode.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import { describeHomeDisk, measureHome } from '../home-disk.js';
import type { Command } from '../command.js';
import { printJson, printLine, printTable, type Column } from '../output.js';

export interface BoardRow {
  readonly repo: string;
  readonly states: Readonly<Record<string, number>>;
  readonly total: number;
}

export interface Board {
  readonly repos: readonly BoardRow[];
  readonly totals: Readonly<Record<string, number>>;
  readonly total: number;
}

/** Fold (repo, state, count) rows into one row per repository plus totals; every repo appears. */
export function buildBoard(
  repoNames: readonly string[],
  counts: readonly { repo: string; state: string; tickets: number }[],
): Board {
  const byRepo = new Map<string, Record<string, number>>(repoNames.map((name) => [name, {}]));
  const totals: Record<string, number> = {};
  for (const { repo, state, tickets } of counts) {
    const states = byRepo.get(repo) ?? {};
    states[state] = (states[state] ?? 0) + tickets;
    byRepo.set(repo, states);
    totals[state] = (totals[state] ?? 0) + tickets;
  }
  const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);
  const repos = [...byRepo.entries()].map(([repo, states]) => ({
    repo,
    states: ordered(states),
    total: sum(states),
  }));
  return { repos, totals: ordered(totals), total: sum(totals) };
}

/** States in lifecycle order (unknown ones last), so JSON and tables read left to right. */
function ordered(record: Record<string, number>): Record<string, number> {
  const rank = (s: string) => {
    const i = (TOP_STATES as readonly string[]).indexOf(s);
    return i === -1 ? TOP_STATES.length : i;
  };
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)),
  );
}

export const command: Command = {
  name: 'status',
  summary: 'ticket counts per repository and state',
  usage: `usage: loopwright status [--json]

One row per registered repository, one column per state that has tickets, and totals. Below it,
tickets whose merge waits for you: the base branch is checked out with uncommitted changes, and
the line says what to run (the merge resumes by itself once the checkout is clean). When a
repository ships through GitHub, one line per repository names its ship mode: webhook (signed
deliveries wake a waiting ticket, nothing polls), polling (ETags and backoff) or local. Last, the
disk LOOPWRIGHT_HOME takes (transcripts, workspaces, scratch checkouts, database folder).`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {});
    expectPositionals(positionals, []);
    const [{ repos, counts, waiting }, disk] = await Promise.all([
      ctx.pool().then(readStatus),
      measureHome(resolveHome(ctx.io.env)),
    ]);
    const board = buildBoard(
      repos.map((r) => r.name),
      counts,
    );
    const shipModes = repos.map(shipModeOf);
    if (values.json) {
      printJson(ctx.io, { ...board, waiting, disk, shipModes });
      return 0;
    }
    const rows: BoardRow[] = [
      ...board.repos,
      { repo: 'TOTAL', states: board.totals, total: board.total },
    ];
    const columns: Column<BoardRow>[] = [
      { header: 'REPO', value: (r) => r.repo },
      ...Object.keys(board.totals).map((state) => ({
        header: state,
        value: (r: BoardRow) => r.states[state] ?? 0,
        right: true,
      })),
      { header: 'TOTAL', value: (r) => r.total, right: true },
    ];
    if (board.repos.length === 0)
      printTable(ctx.io, [], columns, '(no repositories: loopwright repo add <path>)');
    else printTable(ctx.io, rows, columns);
    for (const w of waiting) printLine(ctx.io, `${w.ticket} waits in SHIP: ${w.detail}`);
    // Once any repository ships through GitHub, say how each one hears back.
    if (shipModes.some((m) => m.mode !== 'local'))
      for (const m of shipModes) printLine(ctx.io, `ship mode ${describeShipMode(m)}`);
    printLine(ctx.io, describeHomeDisk(disk));
    return 0;
  },
};
