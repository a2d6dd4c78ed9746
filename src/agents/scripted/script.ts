/**
 * The scripted agent's script: a list of steps; the first whose every given `match` field equals
 * the task identity (title: substring) is played. A script crosses a process boundary (a JSON
 * file read by the agent subprocess), so it is validated with zod.
 *
 * @example
 * {
 *   "steps": [
 *     { "match": { "ticket": "LW-1", "phase": "BUILD" },
 *       "write": { "src/add.ts": "export const add = (a: number, b: number) => a + b;\n" },
 *       "report": { "summary": "implemented add" }, "costUsd": 0.02 },
 *     { "match": { "role": "validator" }, "report": { "verdict": "PASS" } }
 *   ]
 * }
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const ScriptMatchSchema = z.strictObject({
  /** Ticket key, exact. */
  ticket: z.string().optional(),
  /** Substring of the ticket title. */
  title: z.string().optional(),
  role: z.enum(['lead', 'generator', 'validator']).optional(),
  phase: z.string().optional(),
  attempt: z.number().int().nonnegative().optional(),
  round: z.number().int().nonnegative().optional(),
});

export const ScriptStepSchema = z.strictObject({
  match: ScriptMatchSchema.default({}),
  /**
   * Files to write, relative to the worktree (parents created; nothing refused, `../` included).
   */
  write: z.record(z.string(), z.string()).optional(),
  remove: z.array(z.string()).optional(),
  /** Symlinks to create: link path (relative to the worktree) -> target (verbatim). */
  symlink: z.record(z.string(), z.string()).optional(),
  /** Written verbatim as JSON to .loopwright/report.json. */
  report: z.unknown().optional(),
  /**
   * Written verbatim to .loopwright/report.json (for malformed-report tests); wins over `report`.
   */
  rawReport: z.string().optional(),
  sleepMs: z.number().int().nonnegative().optional(),
  /** Sleep forever, with a child process that sleeps too (to prove the whole group is killed). */
  hang: z.boolean().optional(),
  /** Print this many bytes of filler to stdout first (to exercise the output cap). */
  floodBytes: z.number().int().nonnegative().optional(),
  exitCode: z.number().int().min(0).max(255).optional(),
  costUsd: z.number().nonnegative().optional(),
  tokensIn: z.number().int().nonnegative().optional(),
  tokensOut: z.number().int().nonnegative().optional(),
  isError: z.boolean().optional(),
});

export const ScriptSchema = z.strictObject({ steps: z.array(ScriptStepSchema) });

/** A script as written (the JSON file's shape; `match` may be omitted). */
export type Script = z.input<typeof ScriptSchema>;
/** A script after validation (`match` always present). */
export type ParsedScript = z.output<typeof ScriptSchema>;
export type ScriptStep = z.output<typeof ScriptStepSchema>;
export type ScriptMatch = z.output<typeof ScriptMatchSchema>;

/** Who the agent is working for, from the `LOOPWRIGHT_*` environment. */
export interface TaskIdentity {
  readonly ticket?: string;
  readonly title?: string;
  readonly role?: string;
  readonly phase?: string;
  readonly attempt?: number;
  readonly round?: number;
}

/** Read and validate a script file; throws a ZodError or a file error with the path. */
export function loadScript(file: string): ParsedScript {
  return ScriptSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

/** The identity from environment variables (numbers parsed; blanks ignored). */
export function identityFromEnv(env: NodeJS.ProcessEnv): TaskIdentity {
  const num = (value: string | undefined) =>
    value && /^\d+$/.test(value) ? Number(value) : undefined;
  const str = (value: string | undefined) => (value ? value : undefined);
  return dropUndefined({
    ticket: str(env.LOOPWRIGHT_TICKET),
    title: str(env.LOOPWRIGHT_TICKET_TITLE),
    role: str(env.LOOPWRIGHT_ROLE),
    phase: str(env.LOOPWRIGHT_PHASE),
    attempt: num(env.LOOPWRIGHT_ATTEMPT),
    round: num(env.LOOPWRIGHT_ROUND),
  });
}

/** The first step whose every given match field fits `identity`. */
export function findStep(script: ParsedScript, identity: TaskIdentity): ScriptStep | undefined {
  return script.steps.find((step) => matches(step.match, identity));
}

export function matches(match: ScriptMatch, identity: TaskIdentity): boolean {
  if (match.title !== undefined && !(identity.title ?? '').includes(match.title)) return false;
  const exact = ['ticket', 'role', 'phase', 'attempt', 'round'] as const;
  return exact.every((key) => match[key] === undefined || match[key] === identity[key]);
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
