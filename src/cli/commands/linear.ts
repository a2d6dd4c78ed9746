/**
 * `loopwright linear import`: Linear issues of a team (optionally one label) become tickets,
 * idempotently by Linear id; "blocked by" relations become dependencies.
 */
import { BadInputError } from '../../errors.js';
import { operatorName } from '../context.js';
import { createLinear } from '../../integrations/linear/client.js';
import { importLinearIssues, type ImportedIssue } from '../../integrations/linear/import.js';
import { expectPositionals, nonBlank, parseCommandArgs } from '../args.js';
import type { CliContext, Command } from '../command.js';
import { printJson, printTable } from '../output.js';
import { dispatchSubcommand } from '../subcommands.js';

async function importIssues(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    team: { type: 'string' },
    label: { type: 'string' },
    repo: { type: 'string' },
    'dry-run': { type: 'boolean' },
  });
  expectPositionals(positionals, []);
  const team = nonBlank('--team', values.team);
  if (!team || !/^[A-Za-z0-9]{1,10}$/.test(team))
    throw new BadInputError('linear import needs --team KEY (the Linear team key, e.g. ENG)');
  const label = nonBlank('--label', values.label);
  const repo = nonBlank('--repo', values.repo);
  const linear = await createLinear(ctx.io.env);
  const results = await importLinearIssues(await ctx.db(), linear, {
    team,
    ...(label ? { label } : {}),
    ...(repo ? { repo } : {}),
    dryRun: values['dry-run'] === true,
    actor: `operator:${operatorName(ctx.io.env)}`,
  });
  if (values.json) printJson(ctx.io, { dryRun: values['dry-run'] === true, issues: results });
  else printResults(ctx, results);
  return 0;
}

function printResults(ctx: CliContext, results: readonly ImportedIssue[]): void {
  printTable(
    ctx.io,
    results,
    [
      { header: 'ISSUE', value: (r) => r.identifier },
      { header: 'ACTION', value: (r) => r.action },
      { header: 'TICKET', value: (r) => r.ticket ?? '' },
      { header: 'REPO', value: (r) => r.repo ?? '' },
      { header: 'DEPENDS ON', value: (r) => r.dependsOn.join(',') },
      { header: 'TITLE / NOTE', value: (r) => r.note ?? r.title },
    ],
    '(no matching Linear issues)',
  );
}

export const command: Command = {
  name: 'linear',
  summary: 'import Linear issues as tickets',
  usage: `usage: loopwright linear import --team KEY [--label L] [--repo R] [--dry-run] [--json]

Files a ticket for each issue of the team (only those with label L, if given) that is not a ticket
yet — the Linear id is the key, so a second import files nothing. "Blocked by" relations become
dependencies. The repo is --repo, else the repo whose --linear-label matches, else the repo whose
--linear-team is KEY. --dry-run shows what would be created and changes nothing.
Needs LINEAR_API_KEY (or LINEAR_API_KEY_FILE); LINEAR_API_URL overrides the endpoint.`,
  run: (args, ctx) => dispatchSubcommand('linear', args, ctx, { import: importIssues }),
};
