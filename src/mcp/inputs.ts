/**
 * Input fields shared by the tools, with the same bad-input rules as the CLI: no NUL bytes
 * (Postgres
 * text cannot hold them), a ticket body at most 256 KiB, names in the shapes the database stores.
 */
import { TOP_STATES } from '../../machines/ticket.js';
import { z } from 'zod';

/** Largest ticket body, in UTF-8 bytes (the CLI's limit). */
export const MAX_BODY_BYTES = 256 * 1024;

const noNul = (s: string) => !s.includes('\u0000');

/** Free text: trimmed, non-empty, without NUL bytes, at most `max` characters. */
export const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine(noNul, 'must not contain NUL bytes');

/** A ticket key such as `app-12`. */
export const ticketKey = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'is too long')
  .refine(noNul, 'must not contain NUL bytes')
  .describe('ticket key, e.g. app-12');

/** A repository or batch name. */
export const name = (what: string) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(100, 'must be at most 100 characters')
    .refine(noNul, 'must not contain NUL bytes')
    .describe(what);

/** A ticket body: at most 256 KiB of UTF-8, no NUL bytes. */
export const body = z
  .string()
  .refine(noNul, 'must not contain NUL bytes')
  .refine(
    (s) => Buffer.byteLength(s, 'utf8') <= MAX_BODY_BYTES,
    `is larger than ${MAX_BODY_BYTES / 1024} KiB`,
  );

/** A top-level state, case-insensitive. */
export const state = z
  .string()
  .trim()
  .transform((s) => s.toUpperCase())
  .pipe(z.enum(TOP_STATES as unknown as [string, ...string[]]))
  .describe(`one of: ${TOP_STATES.join(', ')}`);

/** An operator's reason: one line of text. */
export const reason = text(2000).describe('why, in a sentence (journaled)');

/** The first problem of a failed parse, as `field.path: message`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid input';
  const where = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`));
  const field = where.join('').replace(/^\./, '');
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : '';
  return `${field ? `${field}: ` : ''}${issue.message}${more}`;
}
