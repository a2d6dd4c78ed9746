/**
 * What the orchestrator concludes after an agent run, from evidence it gathers itself: the
 * report's shape, git's view of the worktree, and the test command's exit code. The agent's word
 * is only used for what cannot be checked (a plan, a critique, a verdict) — and a PASS without
 * evidence is a FAIL.
 */
import type { Phase, TicketEventInput } from '../../machines/ticket.js';
import { insertArtifact } from '../db/artifacts.js';
import type { Kdb } from '../db/connection.js';
import {
  commitAll,
  leadEncroachmentGate,
  runCommandGate,
  scopeGate,
  testFilesGate,
  type CommandGateResult,
  type ScopeGateResult,
  type Worktree,
} from '../workspace/index.js';
import type { Dispatch } from './dispatch.js';
import { describeCommand, describeViolations } from './gate-text.js';
import { readReport, type Plan, type ReportOf } from './report-schema.js';

export interface RunFacts {
  readonly d: Dispatch;
  readonly wt: Worktree;
  readonly runId: string;
  readonly phase: Phase;
  /** HEAD of the worktree when the agent started. */
  readonly headBefore: string;
  readonly plan: Plan | null;
  readonly costUsd: number;
  /** Result of the outside-write probe. */
  readonly outside: ScopeGateResult;
}

type Event = TicketEventInput;

/** The event an agent run's evidence implies (the report has already been found valid or not). */
export async function evaluateRun(db: Kdb, f: RunFacts): Promise<Event> {
  const read = await readReport(f.wt.path, f.phase);
  const run = { runId: f.runId, costUsd: f.costUsd };
  if (!read.ok) return { type: 'REPORT_INVALID', ...run, errors: read.errors };
  await insertArtifact(db, {
    ticketId: f.d.ticket.id,
    kind: 'report',
    runId: f.runId,
    content: JSON.stringify(read.report),
  });
  switch (f.phase) {
    case 'plan_draft':
    case 'plan_revise':
      return evaluatePlan(db, f, read.report as ReportOf<'plan_draft'>);
    case 'plan_critique':
      return evaluateCritique(db, f, read.report as ReportOf<'plan_critique'>);
    case 'red':
      return evaluateRed(db, f);
    case 'build':
      return evaluateBuild(db, f);
    case 'validate':
      return evaluateVerdict(db, f, read.report as ReportOf<'validate'>);
  }
}

async function evaluatePlan(db: Kdb, f: RunFacts, report: ReportOf<'plan_draft'>): Promise<Event> {
  const run = { runId: f.runId, costUsd: f.costUsd };
  const encroach = await leadEncroachmentGate(f.wt.path, f.headBefore);
  const outside = f.outside.ok ? encroach : f.outside;
  if (!encroach.ok || !outside.ok) {
    return {
      type: 'GATE_FAILED',
      ...run,
      reason: 'LEAD_ENCROACHMENT',
      detail: describeViolations(encroach.ok ? outside : encroach),
    };
  }
  const plan = await insertArtifact(db, {
    ticketId: f.d.ticket.id,
    kind: 'plan',
    runId: f.runId,
    content: JSON.stringify(report.plan, null, 2),
  });
  return { type: 'PLAN_READY', ...run, artifactId: Number(plan.id) };
}

async function evaluateCritique(
  db: Kdb,
  f: RunFacts,
  report: ReportOf<'plan_critique'>,
): Promise<Event> {
  const run = { runId: f.runId, costUsd: f.costUsd };
  const untouched = await leadEncroachmentGate(f.wt.path, f.headBefore);
  if (!untouched.ok)
    return {
      type: 'REPORT_INVALID',
      ...run,
      errors: [`the validator changed files: ${describeViolations(untouched)}`],
    };
  const review = await insertArtifact(db, {
    ticketId: f.d.ticket.id,
    kind: 'plan_review',
    runId: f.runId,
    content: JSON.stringify(
      { verdict: report.verdict, critiques: report.critiques, summary: report.summary },
      null,
      2,
    ),
  });
  return { type: 'PLAN_REVIEWED', ...run, verdict: report.verdict, artifactId: Number(review.id) };
}

async function evaluateRed(db: Kdb, f: RunFacts): Promise<Event> {
  const run = { runId: f.runId, costUsd: f.costUsd };
  const plan = f.plan!;
  const files = await testFilesGate(
    f.wt.path,
    f.headBefore,
    plan.testFiles,
    plan.testFiles.filter((t) => !/[*?]/.test(t)),
  );
  if (!files.ok && files.reason === 'RED_NOT_RED')
    return {
      type: 'GATE_FAILED',
      ...run,
      reason: 'RED_NOT_RED',
      detail: describeViolations(files),
    };
  if (!files.ok || !f.outside.ok) {
    return {
      type: 'GATE_FAILED',
      ...run,
      reason: 'SCOPE_VIOLATION',
      detail: describeViolations(files.ok ? f.outside : files),
    };
  }
  const tests = await runTests(db, f, 'RED');
  if (tests.passed)
    return {
      type: 'GATE_FAILED',
      ...run,
      reason: 'RED_NOT_RED',
      detail: describeCommand('RED: test command', testCommand(f), tests),
    };
  await commitAll(f.wt.path, `loopwright(${f.d.ticket.key}): failing tests (RED)`);
  return { type: 'RED_CONFIRMED', ...run };
}

async function evaluateBuild(db: Kdb, f: RunFacts): Promise<Event> {
  const run = { runId: f.runId, costUsd: f.costUsd };
  const plan = f.plan!;
  const scope = await scopeGate(f.wt.path, f.wt.baseCommit, [
    ...plan.allowedFiles,
    ...plan.testFiles,
  ]);
  if (!scope.ok || !f.outside.ok) {
    return {
      type: 'GATE_FAILED',
      ...run,
      reason: 'SCOPE_VIOLATION',
      detail: describeViolations(scope.ok ? f.outside : scope),
    };
  }
  await commitAll(f.wt.path, `loopwright(${f.d.ticket.key}): build attempt ${f.d.context.attempt}`);
  await insertArtifact(db, {
    ticketId: f.d.ticket.id,
    kind: 'gate_result',
    runId: f.runId,
    content: JSON.stringify({ gate: 'SCOPE', passed: true }),
  });
  return { type: 'BUILD_READY', ...run };
}

async function evaluateVerdict(db: Kdb, f: RunFacts, report: ReportOf<'validate'>): Promise<Event> {
  const run = { runId: f.runId, costUsd: f.costUsd };
  const untouched = await leadEncroachmentGate(f.wt.path, f.headBefore);
  if (!untouched.ok)
    return {
      type: 'REPORT_INVALID',
      ...run,
      errors: [`the validator changed files: ${describeViolations(untouched)}`],
    };
  if (report.verdict === 'PASS' && report.evidence.length === 0) {
    return {
      type: 'VERDICT',
      ...run,
      verdict: 'FAIL',
      findings: ['validator said PASS without evidence: treated as FAIL'],
    };
  }
  await insertArtifact(db, {
    ticketId: f.d.ticket.id,
    kind: 'verdict',
    runId: f.runId,
    content: JSON.stringify(
      { verdict: report.verdict, findings: report.findings, evidence: report.evidence },
      null,
      2,
    ),
  });
  return { type: 'VERDICT', ...run, verdict: report.verdict, findings: report.findings };
}

/**
 * VALIDATE's own gates, run before the validator is started: GREEN (the test command passes) and
 * the repo's checks. A failure is a FAIL verdict with the output as findings; no agent is needed.
 */
export async function validateGates(
  db: Kdb,
  d: Dispatch,
  wt: Worktree,
  runId: string,
): Promise<Event | null> {
  const facts = { d, wt, runId } as RunFacts;
  const green = await runTests(db, facts, 'GREEN');
  if (!green.passed)
    return {
      type: 'VERDICT',
      runId,
      verdict: 'FAIL',
      findings: [describeCommand('GREEN: test command', testCommand(facts), green)],
    };
  for (const check of d.repo.check_cmds) {
    const r = await runCommandGate(check, wt.path, {
      timeoutMs: d.settings.gateTimeoutSeconds * 1000,
    });
    await recordGate(db, facts, 'CHECK', check, r);
    if (!r.passed)
      return {
        type: 'VERDICT',
        runId,
        verdict: 'FAIL',
        findings: [describeCommand('repo check', check, r)],
      };
  }
  return null;
}

/** The repo's configured test command: the finish line is the operator's, never the plan's. */
function testCommand(f: Pick<RunFacts, 'd'>): string {
  return f.d.repo.test_cmd ?? 'npm test';
}

async function runTests(db: Kdb, f: RunFacts, gate: 'RED' | 'GREEN'): Promise<CommandGateResult> {
  const command = testCommand(f);
  const result = await runCommandGate(command, f.wt.path, {
    timeoutMs: f.d.settings.gateTimeoutSeconds * 1000,
  });
  await recordGate(db, f, gate, command, result);
  return result;
}

async function recordGate(
  db: Kdb,
  f: Pick<RunFacts, 'd' | 'runId'>,
  gate: string,
  command: string,
  r: CommandGateResult,
) {
  const content = {
    gate,
    command,
    passed: r.passed,
    exitCode: r.exitCode,
    timedOut: r.timedOut,
    durationMs: Math.round(r.durationMs),
    output: r.output.slice(-8000),
  };
  await insertArtifact(db, {
    ticketId: f.d.ticket.id,
    kind: 'gate_result',
    runId: f.runId,
    content: JSON.stringify(content, null, 2),
  });
}
