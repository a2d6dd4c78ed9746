/**
 * `loopwright doctor`: everything the factory needs, checked in one go, blockers first, each with
 * its fix. Exit 0 when nothing blocks (warnings allowed), 1 otherwise.
 */
import { resolveHome } from '../../config/home.js';
import { listRepositories, type Repository } from '../../db/repositories.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import {
  agentChecks,
  type DoctorCheck,
  diskCheck,
  gitCheck,
  psqlCheck,
  sandboxCheck,
} from '../doctor-checks.js';
import { printJson, printLine } from '../output.js';

const ORDER = { fail: 0, warn: 1, ok: 2 } as const;

export const command: Command = {
  name: 'doctor',
  summary: 'check git, sandbox, database, agents, disk and psql; exit 1 on a blocker',
  usage: `usage: loopwright doctor [--json]

Checks git (2.38 or newer), the sandbox (bubblewrap, when a repository uses it), the database
(reachable, password accepted, migrated), every repository's agents (binary, supported version,
credentials: a key variable or the CLI's own login), disk space under LOOPWRIGHT_HOME, and psql
(optional). Problems come first, each with its fix. Exit 0 when nothing blocks, 1 otherwise.`,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, {});
    expectPositionals(positionals, []);
    const checks: DoctorCheck[] = [await gitCheck(ctx.io.env)];
    let repos: Repository[] = [];
    try {
      repos = await listRepositories(await ctx.db());
      const { target } = await ctx.handle();
      checks.push({ name: 'database', status: 'ok', detail: `reachable (${target.source})` });
    } catch (error) {
      checks.push({
        name: 'database',
        status: 'fail',
        detail: (error as Error).message.replace(/\s*\n\s*/g, ' '),
        fix:
          'check LOOPWRIGHT_DATABASE_URL / DATABASE_URL, or unset both to use the embedded ' +
          'Postgres (loopwright db status)',
      });
    }
    checks.push(await sandboxCheck(repos));
    checks.push(...(await agentChecks(repos, ctx.io.env)));
    checks.push(diskCheck(resolveHome(ctx.io.env)), psqlCheck(ctx.io.env));
    checks.sort((a, b) => ORDER[a.status] - ORDER[b.status]);
    const ok = checks.every((c) => c.status !== 'fail');
    if (values.json) printJson(ctx.io, { ok, checks });
    else {
      for (const c of checks)
        printLine(
          ctx.io,
          `${c.status.toUpperCase().padEnd(4)}  ${c.name}: ${c.detail}` +
            (c.fix ? ` — fix: ${c.fix}` : ''),
        );
      printLine(
        ctx.io,
        ok
          ? 'nothing blocks the factory'
          : `${checks.filter((c) => c.status === 'fail').length} blocker(s)`,
      );
    }
    return ok ? 0 : 1;
  },
};
