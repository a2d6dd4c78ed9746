/**
 * What the orchestrator concludes after an agent run, from evidence it gathers itself: the
 * report's shape, the commit it makes of the workspace's files (judged from git objects, never
 * from the directory), and the test command's exit code in a scratch checkout of that exact
 * commit. The agent's word is only used for what cannot be checked (a plan, a critique, a
 * verdict) — and a PASS without evidence is a FAIL.
 */
import type { GATE_REASONS, Phase, TicketEventInput } from '../../machines/ticket.js';
import { insertArtifact, type NewArtifact } from '../db/artifacts.js';
import type { Kdb } from '../db/connection.js';
import {
  acceptCommit,
  branchTip,
  runCommandGate,
  stageCommit,
  withScratchCheckout,
  workspaceTampering,
  type CommandGateResult,
  type ScopeGateResult,
  type StagedCommit,
  type Violation,
  type Worktree,
} from '../workspace/index.js';
import {
  changedRedTests,
  commitScopeViolations,
  missingTestFiles,
  redTestFiles,
  treeChanges,
  type TreeChange,
} from '../workspace/commit-gates.js';
import { globToRegExp } from '../workspace/glob.js';
import type { Dispatch } from './dispatch.js';
import { describeCommand, describeViolations } from './gate-text.js';
import { gateSandbox, grantScratch } from './sandbox-specs.js';
import { handled } from './handled.js';
import { readReport, type Plan, type ReportOf } from './report-schema.js';

export interface RunFacts {
  readonly d: Dispatch;
  readonly wt: Worktree;
  readonly runId: string;
  readonly phase: Phase;
  /** The ticket branch's tip in the repository when the agent started. */
  readonly headBefore: string;
  readonly plan: Plan | null;
  readonly costUsd: number;
  /** Result of the outside-write probe. */
  readonly outside: ScopeGateResult;
  /** loopwright's home (scratch checkouts go under `<home>/tmp`). */
  readonly home: string;
  /** A commit this run already made (a retried job found it by its trailer): judged again as is. */
  readonly madeCommit?: string | null;
  /** The run's report being stored: artifacts the gates store wait for it, so they come after. */
  readonly stored?: Promise<unknown>;
}

type Event = TicketEventInput;

/** The event an agent run's evidence implies (the report has already been found valid or not). */
export async function evaluateRun(db: Kdb, f: RunFacts): Promise<Event> {
  const run = { runId: f.runId, costUsd: f.costUsd };
  const [tampered, read] = await Promise.all([
    f.madeCommit ? [] : tamperingOf(f),
    readReport(f.wt.path, f.phase),
  ]);
  if (tampered.length) {
    const detail = `workspace tampered: ${tampered.join('; ')}`;
    if (f.phase === 'plan_critique' || f.phase === 'validate')
      return { type: 'REPORT_INVALID', ...run, errors: [detail] };
    return { type: 'GATE_FAILED', ...run, reason: 'WORKSPACE_TAMPERED', detail };
  }
  if (!read.ok) return { type: 'REPORT_INVALID', ...run, errors: read.errors };
  // Stored while the phase's gates run; whatever they store goes in after it.
  const stored = handled(
    insertArtifact(db, {
      ticketId: f.d.ticket.id,
      kind: 'report',
      runId: f.runId,
      content: JSON.stringify(read.report),
    }),
  );
  const event = await evaluatePhase(db, { ...f, stored }, read.report);
  await stored;
  return event;
}

function evaluatePhase(db: Kdb, f: RunFacts, report: ReportOf<Phase>): Promise<Event> {
  switch (f.phase) {
    case 'plan_draft':
    case 'plan_revise':
      return evaluatePlan(db, f, report as ReportOf<'plan_draft'>);
    case 'plan_critique':
      return evaluateCritique(db, f, report as ReportOf<'plan_critique'>);
    case 'red':
      return evaluateRed(db, f);
    case 'build':
      return evaluateBuild(db, f);
    case 'validate':
      return evaluateVerdict(db, f, report as ReportOf<'validate'>);
  }
}

/** An artifact of this run, stored after the run's report (see {@link RunFacts.stored}). */
async function storeArtifact(db: Kdb, f: Pick<RunFacts, 'stored'>, artifact: NewArtifact) {
  await f.stored;
  return insertArtifact(db, artifact);
}

/** The workspace's `.git` as the orchestrator made it, and the ticket branch where it left it. */
async function tamperingOf(f: RunFacts): Promise<string[]> {
  const problems = await workspaceTampering(f.wt);
  const tip = await branchTip(f.wt);
  if (tip !== f.headBefore)
    problems.push(
      `the ticket branch moved from ${f.headBefore.slice(0, 12)} to ${tip.slice(0, 12)}`,
    );
  return problems;
}

/**
 * The orchestrator's commit of the workspace for this run (or the one a retried job found), on
 * `headBefore`: the tampering check has just seen the branch there.
 */
async function commitOf(f: RunFacts, message: string): Promise<StagedCommit> {
  if (f.madeCommit) return { commit: f.madeCommit, parent: f.headBefore, anomalies: [] };
  const trailers = { runId: f.runId, ticket: f.d.ticket.key, phase: f.phase };
  return stageCommit(f.wt, message, trailers, f.headBefore);
}

/** What a staged commit changed against its parent (computed while staging, or by git). */
async function stagedChanges(f: RunFacts, staged: StagedCommit): Promise<readonly TreeChange[]> {
  if (staged.changes) return staged.changes;
  return staged.commit ? treeChanges(f.wt.repoGitDir, staged.parent, staged.commit) : [];
}

/** Paths the agent changed, as violations of a phase that may change nothing. */
async function anyChange(f: RunFacts): Promise<Violation[]> {
  const staged = await stageCommit(
    f.wt,
    'probe',
    undefined,
    f.madeCommit ? undefined : f.headBefore,
  );
  const changes = await stagedChanges(f, staged);
  return [
    ...changes.map((c) => ({
      path: c.path,
      why: 'outside-loopwright-dir' as const,
      detail: c.status,
    })),
    ...staged.anomalies,
  ];
}

async function evaluatePlan(db: Kdb, f: RunFacts, report: ReportOf<'plan_draft'>): Promise<Event> {
  const run = { runId: f.runId, costUsd: f.costUsd };
  const encroach = await anyChange(f);
  const violations = encroach.length ? encroach : f.outside.ok ? [] : f.outside.violations;
  if (violations.length) {
    return {
      type: 'GATE_FAILED',
      ...run,
      reason: 'LEAD_ENCROACHMENT',
      detail: describeViolations({ ok: false, reason: 'LEAD_ENCROACHMENT', violations }),
    };
  }
  const plan = await storeArtifact(db, f, {
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
  const changed = await anyChange(f);
  if (changed.length)
    return {
      type: 'REPORT_INVALID',
      ...run,
      errors: [`the validator changed files: ${describe('LEAD_ENCROACHMENT', changed)}`],
    };
  const review = await storeArtifact(db, f, {
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
  const gitDir = f.wt.repoGitDir;
  const staged = await commitOf(f, `loopwright(${f.d.ticket.key}): failing tests (RED)`);
  const changes = await stagedChanges(f, staged);
  const scope = await commitScope(f, staged, changes, plan.testFiles);
  if (scope.length) return gateFailed(run, 'SCOPE_VIOLATION', scope);
  const patterns = plan.testFiles.map((g) => globToRegExp(g));
  const missing = staged.commit
    ? await missingTestFiles(
        gitDir,
        staged.commit,
        plan.testFiles.filter((t) => !/[*?]/.test(t)),
        staged.tree,
      )
    : [];
  if (!changes.some((c) => c.status !== 'deleted' && patterns.some((p) => p.test(c.path))))
    missing.push({ path: plan.testFiles.join(', '), why: 'no-test-changes' });
  if (missing.length) return gateFailed(run, 'RED_NOT_RED', missing);
  const tests = await runTests(db, f, 'RED', staged.commit!);
  if (tests.passed)
    return {
      type: 'GATE_FAILED',
      ...run,
      reason: 'RED_NOT_RED',
      detail: describeCommand('RED: test command', testCommand(f), tests),
    };
  await acceptCommit(f.wt, staged);
  return { type: 'RED_CONFIRMED', ...run, commit: staged.commit! };
}

async function evaluateBuild(db: Kdb, f: RunFacts): Promise<Event> {
  const run = { runId: f.runId, costUsd: f.costUsd };
  const plan = f.plan!;
  const gitDir = f.wt.repoGitDir;
  const staged = await commitOf(
    f,
    `loopwright(${f.d.ticket.key}): build attempt ${f.d.context.attempt}`,
  );
  const head = staged.commit ?? staged.parent;
  const changes = await treeChanges(gitDir, f.wt.baseCommit, head);
  const scope = await commitScope(f, staged, changes, [...plan.allowedFiles, ...plan.testFiles]);
  if (scope.length) return gateFailed(run, 'SCOPE_VIOLATION', scope);
  const redCommit = f.d.context.redCommit;
  if (redCommit) {
    const touched = await changedRedTests(gitDir, redCommit, head);
    if (touched.length)
      return {
        type: 'GATE_FAILED',
        ...run,
        reason: 'TESTS_CHANGED',
        detail: `BUILD changed the RED commit's tests (${redCommit.slice(0, 12)}):\n${touched
          .map((v) => `${v.path}: ${v.why === 'red-test-deleted' ? 'deleted' : 'modified'}`)
          .join('\n')}`,
      };
  }
  await acceptCommit(f.wt, staged);
  await storeArtifact(db, f, {
    ticketId: f.d.ticket.id,
    kind: 'gate_result',
    runId: f.runId,
    content: JSON.stringify({ gate: 'SCOPE', passed: true, commit: head }),
  });
  return { type: 'BUILD_READY', ...run };
}

async function evaluateVerdict(db: Kdb, f: RunFacts, report: ReportOf<'validate'>): Promise<Event> {
  const run = { runId: f.runId, costUsd: f.costUsd };
  const changed = await anyChange(f);
  if (changed.length)
    return {
      type: 'REPORT_INVALID',
      ...run,
      errors: [`the validator changed files: ${describe('LEAD_ENCROACHMENT', changed)}`],
    };
  if (report.verdict === 'PASS' && report.evidence.length === 0) {
    return {
      type: 'VERDICT',
      ...run,
      verdict: 'FAIL',
      findings: ['validator said PASS without evidence: treated as FAIL'],
    };
  }
  await storeArtifact(db, f, {
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
 * VALIDATE's own gates, run before the validator is started, on the ticket branch's tip in a
 * scratch checkout: GREEN (the test command passes with the RED commit's test files restored over
 * the tip) and the repo's checks. A failure is a FAIL verdict with the output as findings.
 */
export async function validateGates(
  db: Kdb,
  d: Dispatch,
  wt: Worktree,
  runId: string,
  home: string,
  tip: string,
): Promise<Event | null> {
  const facts = { d, wt, runId, home } as RunFacts;
  const green = await runTests(db, facts, 'GREEN', tip);
  if (!green.passed)
    return {
      type: 'VERDICT',
      runId,
      verdict: 'FAIL',
      findings: [describeCommand('GREEN: test command', testCommand(facts), green)],
    };
  for (const check of d.repo.check_cmds) {
    const r = await withScratchCheckout(
      wt.repoGitDir,
      tip,
      (dir) => gateCommand(d, wt, check, dir),
      { home, prepare: (dir) => grantScratch(d, dir) },
    );
    await recordGate(db, facts, 'CHECK', check, r, tip);
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

/**
 * The test command on exactly `commit`, in a scratch checkout; for GREEN the RED commit's test
 * files are laid over it, so the acceptance tests that run are the pinned ones.
 */
async function runTests(
  db: Kdb,
  f: RunFacts,
  gate: 'RED' | 'GREEN',
  commit: string,
): Promise<CommandGateResult> {
  const command = testCommand(f);
  const redCommit = gate === 'GREEN' ? f.d.context.redCommit : null;
  const paths = redCommit ? await redTestFiles(f.wt.repoGitDir, redCommit) : [];
  const result = await withScratchCheckout(
    f.wt.repoGitDir,
    commit,
    (dir) => gateCommand(f.d, f.wt, command, dir),
    {
      home: f.home,
      prepare: (dir) => grantScratch(f.d, dir),
      ...(redCommit && paths.length ? { overlay: { commit: redCommit, paths } } : {}),
    },
  );
  await recordGate(db, f, gate, command, result, commit);
  return result;
}

async function recordGate(
  db: Kdb,
  f: Pick<RunFacts, 'd' | 'runId' | 'stored'>,
  gate: string,
  command: string,
  r: CommandGateResult,
  commit: string,
) {
  const content = {
    gate,
    command,
    commit,
    passed: r.passed,
    exitCode: r.exitCode,
    timedOut: r.timedOut,
    durationMs: Math.round(r.durationMs),
    output: r.output.slice(-8000),
  };
  await storeArtifact(db, f, {
    ticketId: f.d.ticket.id,
    kind: 'gate_result',
    runId: f.runId,
    content: JSON.stringify(content, null, 2),
  });
}

/**
 * A gate command in its scratch checkout (already handed to the sandbox user), sandboxed like an
 * agent (a test suite is agent code).
 */
function gateCommand(
  d: Dispatch,
  wt: Worktree,
  command: string,
  dir: string,
): Promise<CommandGateResult> {
  return runCommandGate(command, dir, {
    timeoutMs: d.settings.gateTimeoutSeconds * 1000,
    sandbox: gateSandbox(d, dir, wt.repoGitDir),
  });
}

/**
 * What RED and BUILD commits are judged on: their changes within `globs`, the anomalies staging
 * found, and writes outside the workspace.
 */
async function commitScope(
  f: RunFacts,
  staged: StagedCommit,
  changes: readonly TreeChange[],
  globs: readonly string[],
): Promise<Violation[]> {
  return [
    ...(await commitScopeViolations(f.wt.repoGitDir, changes, globs)),
    ...staged.anomalies,
    ...(f.outside.ok ? [] : f.outside.violations),
  ];
}

/** A GATE_FAILED event for `reason`, its detail the described violations. */
function gateFailed(
  run: { runId: string; costUsd: number },
  reason: (typeof GATE_REASONS)[number],
  violations: readonly Violation[],
): Event {
  return { type: 'GATE_FAILED', ...run, reason, detail: describe(reason, violations) };
}

function describe(reason: string, violations: readonly Violation[]): string {
  return describeViolations({ ok: false, reason, violations } as never);
}
