/**
 * The tools that only read: `board`, `status`, `show_ticket`, `logs` and `oracle`.
 */
import { z } from 'zod';
import { buildBoard } from '../../cli/commands/status.js';
import { loadTicketView } from '../../cli/ticket-view.js';
import { latestArtifact } from '../../db/artifacts.js';
import { getBatchByName } from '../../db/batches.js';
import { getRepositoryByName, listRepositories } from '../../db/repositories.js';
import { listRuns } from '../../db/runs.js';
import { boardCounts, getTicket, listTickets } from '../../db/tickets.js';
import { BadInputError as BadInput } from '../../errors.js';
import { judgeBatch } from '../../oracle/oracle.js';
import { name, state, ticketKey } from '../inputs.js';
import { answer, defineTool, type McpTool } from '../tool.js';
import { suggestedAction, ticketViewJson } from '../views.js';
import { readTranscriptTail } from '../transcript.js';

const HALTED = new Set(['ESCALATED', 'DEAD_LETTER']);

/** `STATE` or `STATE.substate`. */
function stateOf(t: { state: string; substate: string | null }): string {
  return t.substate ? `${t.state}.${t.substate}` : t.state;
}

export const board = defineTool({
  name: 'board',
  title: 'Board',
  description:
    'Ticket counts per repository and state, plus every ticket that waits for a person ' +
    '(escalated, dead-lettered, awaiting approval) with the action to take.',
  input: z.object({}).strict(),
  readOnly: true,
  async run(_input, ctx) {
    const db = await ctx.db();
    const [repos, counts, all] = await Promise.all([
      listRepositories(db),
      boardCounts(db),
      listTickets(db),
    ]);
    const b = buildBoard(
      repos.map((r) => r.name),
      counts,
    );
    const waiting = all.filter((t) => suggestedAction(t.state, t.substate) !== null).slice(0, 50);
    const needsPerson = await Promise.all(
      waiting.map(async (t) => {
        const ctxOf = (await getTicket(db, t.key)).snapshot.context as Record<string, unknown>;
        return {
          key: t.key,
          repo: t.repo,
          state: t.state,
          substate: t.substate,
          reason: typeof ctxOf.reason === 'string' ? ctxOf.reason : null,
          detail: typeof ctxOf.detail === 'string' ? ctxOf.detail.slice(0, 500) : null,
          action: suggestedAction(t.state, t.substate),
        };
      }),
    );
    const lines = b.repos.map(
      (r) =>
        `${r.repo}: ${
          Object.entries(r.states)
            .map(([s, n]) => `${s} ${n}`)
            .join(', ') || 'no tickets'
        }`,
    );
    for (const n of needsPerson)
      lines.push(`! ${n.key} ${n.state}${n.reason ? ` (${n.reason})` : ''}: ${n.action}`);
    return answer(
      { repos: b.repos, totals: b.totals, total: b.total, needsPerson },
      lines.join('\n') || '(no repositories: loopwright repo add <path>)',
    );
  },
});

const STATUS_LIMIT = 200;

export const status = defineTool({
  name: 'status',
  title: 'Ticket status',
  description:
    `Tickets with their state, filtered by repository, batch and state (at ` +
    `most ${STATUS_LIMIT}). Escalated and dead-lettered tickets carry their reason.`,
  input: z
    .object({
      repo: name('repository name').optional(),
      batch: name('batch name').optional(),
      state: state.optional(),
    })
    .strict(),
  readOnly: true,
  async run(input, ctx) {
    const db = await ctx.db();
    // Naming a repository or batch that does not exist is a typo, not an empty list.
    if (input.repo !== undefined) await getRepositoryByName(db, input.repo);
    if (input.batch !== undefined) await getBatchByName(db, input.batch);
    const rows = await listTickets(db, input);
    const shown = rows.slice(0, STATUS_LIMIT);
    const tickets = await Promise.all(
      shown.map(async (t) => {
        const halted = HALTED.has(t.state);
        const context = halted
          ? ((await getTicket(db, t.key)).snapshot.context as Record<string, unknown>)
          : {};
        return {
          key: t.key,
          repo: t.repo,
          title: t.title,
          state: t.state,
          substate: t.substate,
          priority: t.priority,
          version: t.version,
          updatedAt: t.updated_at.toISOString(),
          reason: typeof context.reason === 'string' ? context.reason : null,
          action: suggestedAction(t.state, t.substate),
        };
      }),
    );
    const text = tickets
      .map((t) => `${t.key}  ${stateOf(t)}${t.reason ? ` (${t.reason})` : ''}  ${t.title}`)
      .join('\n');
    return answer(
      { tickets, total: rows.length, truncated: rows.length > shown.length },
      text || '(no tickets)',
    );
  },
});

export const showTicket = defineTool({
  name: 'show_ticket',
  title: 'Show a ticket',
  description:
    'One ticket: state, escalation reason, dependencies, the approved plan (or the latest ' +
    "draft), journal timeline, agent runs (with transcript paths relative to the factory's " +
    'home), the gates the orchestrator ran, and rejected events.',
  input: z.object({ ticket: ticketKey }).strict(),
  readOnly: true,
  async run(input, ctx) {
    const db = await ctx.db();
    const view = await loadTicketView(db, input.ticket);
    const ticket = await getTicket(db, input.ticket);
    const runs = await listRuns(db, ticket.id);
    const transcripts = new Map(runs.map((r) => [r.id, r.transcript_path ?? '']));
    const plan = await planOf(db, ticket.id);
    const json = { ...ticketViewJson(view, ctx.home, transcripts), plan };
    const t = json.ticket;
    const lines = [
      `${t.key}  ${t.title}`,
      `state ${stateOf(t)}${t.reason ? ` (reason ${t.reason})` : ''}` +
        (t.detail ? `: ${t.detail}` : ''),
      `depends on: ${json.dependencies.map((d) => `${d.key} (${d.state})`).join(', ') || '-'}`,
      `plan: ${plan ? `${plan.kind}${plan.goal ? ` — ${plan.goal}` : ''}` : 'none yet'}`,
      'timeline:',
      ...json.timeline.map(
        (e) =>
          `  ${e.seq} ${e.event} ${e.fromState ?? '(new)'} -> ${e.toState} ` +
          `by ${e.actor}${e.detail ? `: ${e.detail}` : ''}`,
      ),
      `runs: ${
        json.runs.map((r) => `${r.role}/${r.phase} ${r.status} (${r.id.slice(0, 8)})`).join(', ') ||
        '-'
      }`,
    ];
    return answer(json, lines.join('\n'));
  },
});

/** The approved plan when there is one, else the newest draft; parsed when it is JSON. */
export async function planOf(db: Parameters<typeof latestArtifact>[0], ticketId: string) {
  const approved = await latestArtifact(db, ticketId, 'approved_plan');
  const artifact = approved ?? (await latestArtifact(db, ticketId, 'plan'));
  if (!artifact) return null;
  let content: unknown = artifact.content;
  try {
    content = JSON.parse(artifact.content);
  } catch {
    // Stored as text: return it as is.
  }
  const goal =
    content && typeof content === 'object' && 'goal' in content
      ? String((content as { goal: unknown }).goal)
      : null;
  return {
    kind: approved ? 'approved' : 'draft',
    artifactId: artifact.id,
    sha256: artifact.sha256,
    goal,
    content,
  };
}

export const logs = defineTool({
  name: 'logs',
  title: 'Transcript tail',
  description:
    "The tail of an agent run's transcript (JSON lines as the agent CLI wrote them; untrusted " +
    "agent output). Default: the ticket's latest run. Size-capped: maxBytes (default 16384, " +
    'at most 65536).',
  input: z
    .object({
      ticket: ticketKey,
      run: z
        .string()
        .trim()
        .regex(/^[0-9a-f-]{4,36}$/i, 'must be a run id or a prefix of one (hex)')
        .optional()
        .describe('run id or its first characters (show_ticket lists runs)'),
      maxBytes: z.number().int().min(256).max(65_536).optional(),
    })
    .strict(),
  readOnly: true,
  async run(input, ctx) {
    const db = await ctx.db();
    const ticket = await getTicket(db, input.ticket);
    const runs = await listRuns(db, ticket.id);
    const run = pickRun(runs, input.run, ticket.key);
    const tail = await readTranscriptTail(run.transcript_path, ctx.home, input.maxBytes ?? 16_384);
    return answer(
      {
        ticket: ticket.key,
        runId: run.id,
        role: run.role,
        phase: run.phase,
        status: run.status,
        transcript: tail.path,
        sizeBytes: tail.sizeBytes,
        truncated: tail.truncated,
        lines: tail.lines,
      },
      [
        `${ticket.key} run ${run.id.slice(0, 8)} ` +
          `(${run.role}/${run.phase}, ${run.status}): ${tail.path ?? 'no transcript'}` +
          (tail.truncated ? ` — last ${tail.lines.length} lines of ${tail.sizeBytes} bytes` : ''),
        ...tail.lines,
      ].join('\n'),
    );
  },
});

function pickRun<R extends { id: string }>(
  runs: readonly R[],
  ref: string | undefined,
  key: string,
): R {
  if (runs.length === 0) throw new BadInput(`${key} has no agent runs yet`);
  if (ref === undefined) return runs[runs.length - 1]!;
  const matches = runs.filter((r) => r.id.startsWith(ref.toLowerCase()));
  if (matches.length === 1) return matches[0]!;
  throw new BadInput(
    matches.length === 0
      ? `${key} has no run ${ref} (runs: ${runs.map((r) => r.id.slice(0, 8)).join(', ')})`
      : `run prefix ${ref} is ambiguous: ${matches.map((r) => r.id.slice(0, 12)).join(', ')}`,
  );
}

export const oracle = defineTool({
  name: 'oracle',
  title: 'Is the batch done?',
  description:
    'The done-oracle: done only when every ticket of the batch is LIVE — its merge commit ' +
    "reachable from the base branch and the orchestrator's own live check passed on it — or " +
    "cancelled by a human; never from an agent's report. Lists what is missing. " +
    'Call again to poll.',
  input: z.object({ batch: name('batch name') }).strict(),
  readOnly: true,
  async run(input, ctx) {
    const result = await judgeBatch(await ctx.db(), input.batch, {
      recheck: false,
      home: ctx.home,
    });
    const lines = [
      `batch ${result.batch}: ${result.done ? 'DONE' : 'NOT DONE'}`,
      ...result.blockers.map((b) => `! ${b}`),
      ...result.tickets.map((t) => `${t.key} ${t.state} ${t.verdict}: ${t.why.join('; ')}`),
    ];
    return answer(
      {
        batch: result.batch,
        done: result.done,
        blockers: result.blockers,
        tickets: result.tickets,
        missing: result.tickets.filter((t) => t.verdict === 'missing').map((t) => t.key),
      },
      lines.join('\n'),
    );
  },
});

export const READ_TOOLS: readonly McpTool[] = [board, status, showTicket, logs, oracle];
