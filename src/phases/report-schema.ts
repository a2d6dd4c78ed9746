/**
 * The report contract (skills/shared/report-contract.md): what an agent must leave in
 * `.loopwright/report.json`, validated with zod on read. A report is never trusted as proof of
 * anything; it carries the agent's plan, verdict and discovered work, and the gates check the rest.
 */
import { z } from 'zod';
import type { Phase } from '../../machines/ticket.js';
import { readUntrustedFile } from '../workspace/untrusted-file.js';

const text = z.string().trim().min(1).max(20_000);
const glob = z
  .string()
  .trim()
  .min(1)
  .max(300)
  .refine(
    (g) => !g.startsWith('/') && !g.split('/').includes('..'),
    'globs are relative to the repo root and may not contain ..',
  );

export const planSchema = z.object({
  goal: text,
  allowedFiles: z.array(glob).min(1).max(100),
  testFiles: z.array(glob).min(1).max(50),
  acceptanceCriteria: z
    .array(z.object({ name: text, test: text }))
    .min(1)
    .max(50),
  testCommand: z.string().optional(),
  notes: z.string().max(20_000).optional(),
});
export type Plan = z.infer<typeof planSchema>;

const baseReport = {
  summary: text,
  rationale: text,
  confidence: z.number().min(0).max(1),
  alternativesRejected: z.array(z.object({ option: text, reason: text })).max(50),
  evidence: z.array(z.object({ claim: text, source: text })).max(200),
  filesChanged: z.array(z.string()).max(1000),
  discoveredWork: z
    .array(
      z.object({
        title: text,
        body: z.string().max(20_000).default(''),
        repo: z.string().optional(),
        blocking: z.boolean().default(false),
        tags: z.array(z.string()).default([]),
        dependsOn: z.array(z.string()).max(20).optional(),
      }),
    )
    .max(20),
};

const leadReport = z.object({ ...baseReport, plan: planSchema });
const critiqueReport = z
  .object({
    ...baseReport,
    verdict: z.enum(['APPROVE', 'REVISE']),
    critiques: z.array(text).max(100),
  })
  .refine((r) => r.verdict === 'APPROVE' || r.critiques.length > 0, {
    message: 'REVISE needs at least one critique',
    path: ['critiques'],
  });
const generatorReport = z.object(baseReport);
const verdictReport = z
  .object({ ...baseReport, verdict: z.enum(['PASS', 'FAIL']), findings: z.array(text).max(200) })
  .refine((r) => r.verdict === 'PASS' || r.findings.length > 0, {
    message: 'FAIL needs at least one finding',
    path: ['findings'],
  });

export const REPORT_SCHEMAS = {
  plan_draft: leadReport,
  plan_revise: leadReport,
  plan_critique: critiqueReport,
  red: generatorReport,
  build: generatorReport,
  validate: verdictReport,
} as const satisfies Record<Phase, z.ZodType>;

export type ReportOf<P extends Phase> = z.output<(typeof REPORT_SCHEMAS)[P]>;
export type AnyReport = ReportOf<Phase>;

export const REPORT_PATH = '.loopwright/report.json';

export type ReadReport<P extends Phase> =
  | { readonly ok: true; readonly report: ReportOf<P> }
  | { readonly ok: false; readonly errors: string[] };

/** The largest report.json read (1 MiB); a bigger one is a contract violation. */
export const REPORT_MAX_BYTES = 1024 * 1024;

/**
 * Read and validate the report an agent left in its workspace: a regular file (a symlink is a
 * contract violation, its target never read), at most {@link REPORT_MAX_BYTES}, strict UTF-8 JSON.
 */
export async function readReport<P extends Phase>(
  worktree: string,
  phase: P,
): Promise<ReadReport<P>> {
  const read = await readUntrustedFile(worktree, REPORT_PATH, { maxBytes: REPORT_MAX_BYTES });
  if (!read.ok) return { ok: false, errors: [read.message] };
  let json: unknown;
  try {
    json = JSON.parse(read.text);
  } catch (error) {
    return { ok: false, errors: [`${REPORT_PATH} is not JSON: ${(error as Error).message}`] };
  }
  const parsed = REPORT_SCHEMAS[phase].safeParse(json);
  if (parsed.success) return { ok: true, report: parsed.data as ReportOf<P> };
  return {
    ok: false,
    errors: parsed.error.issues
      .slice(0, 20)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
  };
}
