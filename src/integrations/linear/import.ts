/**
 * Linear issues become tickets, idempotently by Linear id: an issue already linked to a ticket is
 * never filed twice (the link's unique key, taken under an advisory lock in the transaction that
 * files the ticket). "Blocked by" relations become dependencies (blockers are filed first); the
 * repository is chosen by `--repo`, else by label, else by team (settings.linear of each repo).
 */
import type { Issue, LinearClient } from '@linear/sdk';
import { sql } from 'kysely';
import type { Kdb } from '../../db/connection.js';
import { linkByExternal, upsertLink } from '../../db/integrations.js';
import { listRepositories, type Repository } from '../../db/repositories.js';
import { getTicket } from '../../db/tickets.js';
import { createTicketIn } from '../../engine/create-ticket.js';
import { inTransaction } from '../../engine/transaction.js';
import { repoSettings } from '../../config/repo-settings.js';
import { BadInputError } from '../../errors.js';

export interface ImportOptions {
  readonly team: string;
  readonly label?: string;
  readonly repo?: string;
  readonly dryRun: boolean;
  readonly actor: string;
  /** Import only this Linear issue id (a webhook's), with its blockers resolved from links. */
  readonly only?: string;
}

export interface ImportedIssue {
  readonly identifier: string;
  readonly linearId: string;
  readonly title: string;
  readonly repo: string | null;
  /** created, exists (already a ticket), would-create (dry run), or skipped (why in `note`). */
  readonly action: 'created' | 'exists' | 'would-create' | 'skipped';
  readonly ticket: string | null;
  readonly dependsOn: readonly string[];
  readonly note?: string;
}

interface Fetched {
  readonly issue: Issue;
  readonly labels: string[];
  readonly teamKey: string;
  /** Linear ids of issues that block this one. */
  readonly blockedBy: string[];
}

export async function importLinearIssues(
  db: Kdb,
  linear: LinearClient,
  o: ImportOptions,
): Promise<ImportedIssue[]> {
  const repos = await listRepositories(db);
  if (o.repo && !repos.some((r) => r.name === o.repo))
    throw new BadInputError(`unknown repo: ${o.repo}`);
  const fetched = await fetchIssues(linear, o);
  const byId = new Map(fetched.map((f) => [f.issue.id, f]));
  const done = new Map<string, ImportedIssue>();
  const visiting = new Set<string>();
  const visit = async (f: Fetched): Promise<ImportedIssue> => {
    const seen = done.get(f.issue.id);
    if (seen) return seen;
    visiting.add(f.issue.id);
    const deps: string[] = [];
    for (const blocker of f.blockedBy) {
      const inSet = byId.get(blocker);
      if (inSet && !visiting.has(blocker)) {
        const r = await visit(inSet);
        if (r.ticket) deps.push(r.ticket);
        else if (r.action === 'would-create') deps.push(r.identifier);
      } else {
        const link = await linkByExternal(db, 'linear', blocker);
        if (link) deps.push((await getTicket(db, { id: link.ticket_id })).key);
      }
    }
    visiting.delete(f.issue.id);
    const result = await fileOne(db, f, repos, deps, o);
    done.set(f.issue.id, result);
    return result;
  };
  for (const f of fetched) await visit(f);
  return fetched.map((f) => done.get(f.issue.id)!);
}

async function fetchIssues(linear: LinearClient, o: ImportOptions): Promise<Fetched[]> {
  const filter = {
    team: { key: { eq: o.team } },
    ...(o.label ? { labels: { name: { eq: o.label } } } : {}),
  };
  const out: Fetched[] = [];
  if (o.only) return [await describe(await linear.issue(o.only), o.team)];
  let page = await linear.issues({ filter, first: 50 });
  for (;;) {
    for (const issue of page.nodes) out.push(await describe(issue, o.team));
    if (!page.pageInfo.hasNextPage || out.length >= 1000) break;
    page = await page.fetchNext();
  }
  return out;
}

/** One issue with its labels and blockers (inverse "blocks" relations). */
export async function describe(issue: Issue, teamKey: string): Promise<Fetched> {
  const [labels, inverse] = await Promise.all([issue.labels(), issue.inverseRelations()]);
  return {
    issue,
    teamKey,
    labels: labels.nodes.map((l) => l.name),
    blockedBy: inverse.nodes
      .filter((r) => r.type === 'blocks' && r.relatedIssueId === issue.id && r.issueId)
      .map((r) => r.issueId!),
  };
}

/** The repository an issue maps to: --repo, else a label match, else the team's label-less repo. */
export function repoFor(
  repos: readonly Repository[],
  teamKey: string,
  labels: readonly string[],
  explicit?: string,
): { repo: Repository | null; why?: string } {
  if (explicit) return { repo: repos.find((r) => r.name === explicit) ?? null };
  const mapped = repos.flatMap((r) => {
    const l = repoSettings(r).linear;
    return l && l.team.toLowerCase() === teamKey.toLowerCase() ? [{ r, l }] : [];
  });
  const byLabel = mapped.filter(({ l }) => l.labels.some((x) => labels.includes(x)));
  if (byLabel.length === 1) return { repo: byLabel[0]!.r };
  if (byLabel.length > 1)
    return {
      repo: null,
      why: `labels match several repos: ${byLabel.map((m) => m.r.name).join(', ')}`,
    };
  const byTeam = mapped.filter(({ l }) => l.labels.length === 0);
  if (byTeam.length === 1) return { repo: byTeam[0]!.r };
  return {
    repo: null,
    why: byTeam.length
      ? `team ${teamKey} maps to several repos`
      : `no repo is mapped to team ${teamKey} (repo add --linear-team)`,
  };
}

async function fileOne(
  db: Kdb,
  f: Fetched,
  repos: readonly Repository[],
  dependsOn: string[],
  o: ImportOptions,
): Promise<ImportedIssue> {
  const base = {
    identifier: f.issue.identifier,
    linearId: f.issue.id,
    title: f.issue.title,
    dependsOn,
  };
  const existing = await linkByExternal(db, 'linear', f.issue.id);
  if (existing) {
    const t = await getTicket(db, { id: existing.ticket_id });
    return { ...base, repo: null, action: 'exists', ticket: t.key };
  }
  const { repo, why } = repoFor(repos, f.teamKey, f.labels, o.repo);
  if (!repo) return { ...base, repo: null, action: 'skipped', ticket: null, note: why };
  if (o.dryRun) return { ...base, repo: repo.name, action: 'would-create', ticket: null };
  return inTransaction(db, async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${`linear:${f.issue.id}`}))`.execute(trx);
    const raced = await linkByExternal(trx, 'linear', f.issue.id);
    if (raced) {
      const t = await getTicket(trx, { id: raced.ticket_id });
      return { ...base, repo: repo.name, action: 'exists' as const, ticket: t.key };
    }
    const created = await createTicketIn(trx, {
      repo: repo.name,
      title: f.issue.title.slice(0, 500),
      body: [
        (f.issue.description ?? '').slice(0, 50_000),
        '',
        `Linear: ${f.issue.identifier} ${f.issue.url}`,
      ].join('\n'),
      tags: ['linear', ...f.labels.filter((l) => /^[\w.-]{1,50}$/.test(l))].slice(0, 20),
      dependsOn,
      actor: o.actor,
    });
    await upsertLink(trx, {
      ticketId: created.id,
      system: 'linear',
      externalId: f.issue.id,
      externalKey: f.issue.identifier,
      url: f.issue.url,
      data: { teamId: f.issue.teamId ?? null, teamKey: f.teamKey },
    });
    return { ...base, repo: repo.name, action: 'created' as const, ticket: created.key };
  });
}
