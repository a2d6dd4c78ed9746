/**
 * `file_tickets`: a planned set of tickets with dependencies between them by local name, filed
 * into one batch in one transaction (src/engine/file-batch.ts) — all or nothing.
 */
import { z } from 'zod';
import { fileTicketBatch, MAX_PLANNED_TICKETS } from '../../engine/file-batch.js';
import { body, name, text, ticketKey } from '../inputs.js';
import { answer, defineTool } from '../tool.js';

const localName = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, . _ - (e.g. "api")')
  .describe('local name, unique in this call; what dependsOn refers to');

const planned = z
  .object({
    name: localName,
    repo: name('registered repository name'),
    title: text(500),
    body: body
      .optional()
      .describe(
        'what to build and why, acceptance criteria, and the files the change may touch (the ' +
          'Lead turns this into the plan)',
      ),
    allowedFiles: z
      .array(text(300))
      .max(100)
      .optional()
      .describe('globs of the files the change should touch; appended to the body for the Lead'),
    dependsOn: z
      .array(localName)
      .max(MAX_PLANNED_TICKETS)
      .optional()
      .describe('local names of tickets in this call that must be LIVE first'),
    dependsOnTickets: z
      .array(ticketKey)
      .max(50)
      .optional()
      .describe('keys of tickets filed earlier that must be LIVE first'),
    priority: z.number().int().min(-1000).max(1000).optional(),
    tags: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,39}$/, 'lowercase letters, digits, . _ -'))
      .max(20)
      .optional(),
  })
  .strict();

/** The body the Lead reads: the given text plus the allowed-files list, within the body cap. */
function bodyOf(t: z.output<typeof planned>): string | undefined {
  if (!t.allowedFiles?.length) return t.body;
  const list = t.allowedFiles.map((g) => `- \`${g}\``).join('\n');
  const combined = `${t.body ?? ''}${t.body ? '\n\n' : ''}## Allowed files\n\n${list}\n`;
  return body.parse(combined);
}

export const fileTickets = defineTool({
  name: 'file_tickets',
  title: 'File a batch of tickets',
  description:
    `File up to ${MAX_PLANNED_TICKETS} tickets into one batch in ONE transaction: ` +
    `all are filed or none. Each has a local name; dependsOn names others in the same call ` +
    `(they must be LIVE first). Refused, with nothing stored: unknown repository, unknown or ` +
    `duplicate local name, a dependency cycle, a body over 256 KiB, NUL bytes. The batch is ` +
    `created when new; tickets join it when it exists. Judge it with the oracle tool.`,
  input: z
    .object({
      batch: name('batch name: the oracle judges these tickets together'),
      tickets: z.array(planned).min(1).max(MAX_PLANNED_TICKETS),
    })
    .strict(),
  readOnly: false,
  async run(input, ctx) {
    const filed = await fileTicketBatch(await ctx.db(), {
      batch: input.batch,
      actor: ctx.actor,
      tickets: input.tickets.map((t) => {
        const b = bodyOf(t);
        return {
          name: t.name,
          repo: t.repo,
          title: t.title,
          ...(b === undefined ? {} : { body: b }),
          ...(t.dependsOn ? { dependsOn: t.dependsOn } : {}),
          ...(t.dependsOnTickets ? { dependsOnTickets: t.dependsOnTickets } : {}),
          ...(t.priority === undefined ? {} : { priority: t.priority }),
          ...(t.tags ? { tags: t.tags } : {}),
        };
      }),
    });
    const tickets = filed.tickets.map((t) => ({
      name: t.name,
      key: t.key,
      repo: t.repo,
      title: t.title,
      state: t.state,
      dependsOn: t.dependsOn,
    }));
    return answer(
      { batch: filed.batch, batchCreated: filed.batchCreated, tickets },
      [
        `filed ${tickets.length} ticket(s) in ` +
          `batch ${filed.batch}${filed.batchCreated ? ' (new)' : ''}:`,
        ...tickets.map(
          (t) =>
            `  ${t.name} = ${t.key}` +
            (t.dependsOn.length ? ` (after ${t.dependsOn.join(', ')})` : ''),
        ),
      ].join('\n'),
    );
  },
});
