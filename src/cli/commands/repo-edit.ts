/**
 * `repo show`, `repo set` and `repo remove` (registered by ./repo.ts).
 */
import { applyEvent } from '../../engine/apply-event.js';
import { FINAL_STATES } from '../../../machines/ticket.js';
import {
  getRepositoryByName,
  removeRepository,
  ticketStatesOf,
  updateRepository,
} from '../../db/repositories.js';
import { BadInputError } from '../../errors.js';
import { expectPositionals, parseCommandArgs } from '../args.js';
import type { CliContext } from '../command.js';
import { printJson, printLine } from '../output.js';
import { EDIT_OPTIONS, editRepo, warnAboutAgents } from '../repo-settings-flags.js';
import { printRepo, repoJson } from '../repo-view.js';

export async function showRepo(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {});
  const [name] = expectPositionals(positionals, ['<name>']);
  const repo = await getRepositoryByName(await ctx.db(), name!);
  if (values.json) printJson(ctx.io, repoJson(repo));
  else printRepo(ctx.io, repo);
  return 0;
}

export async function setRepo(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, EDIT_OPTIONS);
  const [name] = expectPositionals(positionals, ['<name>']);
  if (Object.keys(values).every((k) => k === 'json'))
    throw new BadInputError('repo set needs at least one setting (see loopwright repo --help)');
  const db = await ctx.db();
  const repo = await getRepositoryByName(db, name!);
  const edit = await editRepo(repo.settings ?? {}, values, ctx.io.cwd);
  if (edit.columns.test_cmd === null)
    throw new BadInputError('--test-cmd must not be empty: the RED and VALIDATE gates need one');
  const warnings = await warnAboutAgents(ctx.io, edit.settings, values.json === true);
  const updated = await updateRepository(db, repo.id, {
    ...edit.columns,
    settings: JSON.stringify(edit.settings),
  });
  if (values.json) printJson(ctx.io, { ...repoJson(updated), warnings });
  else printLine(ctx.io, `updated repo ${updated.name} (loopwright repo show ${updated.name})`);
  return 0;
}

export async function removeRepo(args: readonly string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { force: { type: 'boolean' } });
  const [name] = expectPositionals(positionals, ['<name>']);
  const db = await ctx.db();
  const repo = await getRepositoryByName(db, name!);
  const final: readonly string[] = FINAL_STATES;
  const active = (await ticketStatesOf(db, repo.id)).filter((t) => !final.includes(t.state));
  if (active.length > 0 && !values.force) {
    const listed = active.slice(0, 5).map((t) => `${t.key} ${t.state}`);
    throw new BadInputError(
      `repo ${repo.name} has ${active.length} active ticket(s) ` +
        `(${listed.join(', ')}${active.length > 5 ? ', ...' : ''}); ` +
        'finish or cancel them, or pass --force to cancel them',
    );
  }
  const cancelled: string[] = [];
  for (const ticket of active) {
    const outcome = await applyEvent(
      db,
      ticket.key,
      { type: 'CANCEL', reason: `repo ${repo.name} removed` },
      { actor: ctx.actor() },
    );
    if (outcome.status !== 'applied')
      throw new BadInputError(`cannot cancel ${ticket.key}: ${outcome.detail}; nothing removed`);
    cancelled.push(ticket.key);
  }
  const how = await removeRepository(db, repo.id);
  if (values.json) printJson(ctx.io, { name: repo.name, path: repo.path, removed: how, cancelled });
  else
    printLine(
      ctx.io,
      `removed repo ${repo.name}` +
        (cancelled.length ? ` (cancelled ${cancelled.join(', ')})` : '') +
        `; ${repo.path} is untouched` +
        (how === 'marked' ? '; its tickets keep their history and the name stays reserved' : ''),
    );
  return 0;
}
