/**
 * `loopwright sql "<statement>"`: run SQL on the database in use through the pg driver, with
 * `search_path` set to the loopwright schema, and print the rows as a table (`--json`: rows and
 * column names). No psql client needed; `loopwright psql` stays for those who have one.
 */
import { BadInputError, LoopwrightError } from '../../errors.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { printJson, printLine, printTable } from '../output.js';

const MAX_ROWS = 10_000;

export const command: Command = {
  name: 'sql',
  summary: 'run one SQL statement and print a table (no psql needed)',
  usage: `usage: loopwright sql "<statement>" [--json]

Runs the statement in one transaction on the database in use with search_path loopwright, public
(so the views v_board, v_timeline, v_runs, v_stuck and the tables need no schema prefix), and
prints the rows as a table; at most ${MAX_ROWS} rows are printed. An SQL error is exit 1 with the
server's message. --json: {"columns": [...], "rows": [...], "rowCount": N}.

example:
  loopwright sql "select * from v_board"
  loopwright sql "select ticket, seq, event_type, to_state from v_timeline where ticket = 'app-3'"`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {});
    const [statement] = expectPositionals(positionals, ['<statement>']);
    if (!statement?.trim()) throw new BadInputError('the SQL statement must not be empty');
    const { pool } = await ctx.handle();
    const client = await pool.connect();
    let result: {
      fields: { name: string }[];
      rows: Record<string, unknown>[];
      rowCount: number | null;
    };
    try {
      await client.query('begin');
      await client.query('set local search_path = loopwright, public');
      const answer = await client.query({ text: statement, rowMode: 'array' });
      const last = Array.isArray(answer) ? answer.at(-1) : answer;
      result = {
        fields: last?.fields ?? [],
        rows: (last?.rows ?? []) as Record<string, unknown>[],
        rowCount: last?.rowCount ?? null,
      };
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      const e = error as { message?: string; position?: string };
      throw new SqlError(
        `sql: ${e.message ?? String(error)}${e.position ? ` (at character ${e.position})` : ''}`,
      );
    } finally {
      client.release();
    }
    const columns = result.fields.map((f) => f.name);
    const rows = (result.rows as unknown as unknown[][]).slice(0, MAX_ROWS);
    if (values.json) {
      printJson(ctx.io, {
        columns,
        rows: rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]]))),
        rowCount: result.rowCount,
      });
      return 0;
    }
    if (columns.length === 0) {
      printLine(ctx.io, `ok${result.rowCount !== null ? ` (${result.rowCount} rows)` : ''}`);
      return 0;
    }
    printTable(
      ctx.io,
      rows,
      columns.map((header, i) => ({
        header,
        value: (r: unknown[]) =>
          r[i] !== null && typeof r[i] === 'object' && !(r[i] instanceof Date)
            ? JSON.stringify(r[i])
            : r[i],
      })),
      '(0 rows)',
    );
    if (result.rows.length > MAX_ROWS)
      printLine(ctx.io, `(${result.rows.length - MAX_ROWS} more rows not shown)`);
    return 0;
  },
};

/** The server refused the statement (exit 1, not bad input: the CLI cannot know SQL is wrong). */
class SqlError extends LoopwrightError {
  constructor(message: string) {
    super('SQL_ERROR', message);
  }
}
