/**
 * The handover: `.loopwright/task.md` (the agent's whole brief, skills/shared/task-format.md), the
 * plan files it points to, and the system prompt (role charter + the target repo's own rulebook).
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { Phase, Role } from '../../machines/ticket.js';
import { skillsDir } from '../config/skills.js';
import { readUntrustedFile } from '../workspace/untrusted-file.js';
import type { Plan } from './report-schema.js';

export interface Handover {
  readonly ticketKey: string;
  readonly title: string;
  readonly body: string;
  readonly repoName: string;
  readonly role: Role;
  readonly phase: Phase;
  /** `n of max`, for attempts and rounds. */
  readonly counter: string | null;
  readonly baseCommit: string;
  readonly redCommit: string | null;
  readonly testCommand: string;
  readonly checks: readonly string[];
  /** The plan under review (critique / revise) or the approved one (red, build, validate). */
  readonly plan: Plan | null;
  /**
   * The plan artifact's stored content, written byte for byte (so it hashes to `approvedPlanSha`).
   */
  readonly planText: string | null;
  readonly approvedPlanSha: string | null;
  readonly findings: readonly string[];
}

export const TASK_FILE = '.loopwright/task.md';

const JOBS: Record<Phase, string> = {
  plan_draft:
    'Read the codebase and draft the plan. Write only under .loopwright/. Put the ' +
    'plan in report.plan.',
  plan_critique:
    'Critique the plan in .loopwright/plan.json. Verdict APPROVE or REVISE with ' +
    'numbered critiques.',
  plan_revise:
    'Revise the plan in .loopwright/plan.json to answer every critique below. Write only ' +
    'under .loopwright/.',
  red: 'Write the planned tests so they FAIL against the current code. Change only the test files.',
  build:
    'Implement the approved plan within the allowed files so the tests pass. Address every ' +
    'previous finding.',
  validate:
    "The orchestrator's gates passed. Verify the change yourself and give a PASS or FAIL " +
    'verdict with evidence.',
};

/** The copies of the role charter and the report contract in every handover (read-only intent). */
export const CHARTER_FILE = '.loopwright/charter.md';
export const CONTRACT_FILE = '.loopwright/report-contract.md';

/**
 * Write the handover files into a clean `.loopwright/` of the workspace: task.md, the plan (its
 * stored artifact text, byte for byte, so `sha256sum approved-plan.json` equals the digest in
 * task.md), and copies of the role charter and report contract read from the package — an agent
 * editing its copy changes nothing the orchestrator reads.
 */
export async function writeHandover(worktree: string, h: Handover): Promise<void> {
  const files = new Map<string, string>();
  if (h.plan) {
    const file = h.approvedPlanSha ? 'approved-plan.json' : 'plan.json';
    files.set(file, h.planText ?? `${JSON.stringify(h.plan, null, 2)}\n`);
  }
  files.set(path.basename(CHARTER_FILE), readSkill(h.role, 'SKILL.md'));
  files.set(path.basename(CONTRACT_FILE), readSkill('shared', 'report-contract.md'));
  if (h.role !== 'generator') files.set('plan-format.md', readSkill('shared', 'plan-format.md'));
  files.set(path.basename(TASK_FILE), renderTask(h));
  writeExactly(path.join(worktree, '.loopwright'), files);
}

/** The modes of every handover file and of their directory. */
const HANDOVER_MODE = 0o644;
const DIR_MODE = 0o755;

/**
 * Make `dir` hold exactly `files` (name -> content), as if removed and written afresh, touching
 * only what differs: on this kind of disk a create or an unlink costs far more than reading a
 * small file, and consecutive runs share most of their handover. The last agent had the
 * directory, so anything it could have bent is not reused: an entry that is not a plain file with
 * one link and the handover's mode is removed, as is one that is not wanted; a wanted file is
 * rewritten unless its bytes are already the same (never opened through a link). Synchronous
 * calls on purpose: a handful of small local files, where a hop through libuv's thread pool per
 * call adds up on a busy machine.
 */
function writeExactly(dir: string, files: ReadonlyMap<string, string>): void {
  const top = lstatOrNull(dir);
  if (top?.isDirectory()) {
    if ((top.mode & 0o7777) !== DIR_MODE) chmodSync(dir, DIR_MODE);
  } else {
    if (top) rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  }
  const kept = new Set<string>();
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    const want = files.get(name);
    const stat = lstatSync(file);
    const plain = stat.isFile() && stat.nlink === 1 && (stat.mode & 0o7777) === HANDOVER_MODE;
    if (want === undefined || !plain) {
      rmSync(file, { recursive: true, force: true });
      continue;
    }
    kept.add(name);
    if (stat.size === Buffer.byteLength(want) && sameBytes(file, want)) continue;
    writeThrough(file, want, constants.O_WRONLY | constants.O_TRUNC);
  }
  for (const [name, content] of files)
    if (!kept.has(name))
      writeThrough(
        path.join(dir, name),
        content,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
      );
}

function writeThrough(file: string, content: string, flags: number): void {
  const fd = openSync(file, flags | constants.O_NOFOLLOW, HANDOVER_MODE);
  try {
    fchmodSync(fd, HANDOVER_MODE); // whatever the umask
    writeFileSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

function sameBytes(file: string, want: string): boolean {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return readFileSync(fd).equals(Buffer.from(want));
  } finally {
    closeSync(fd);
  }
}

function lstatOrNull(file: string): Stats | null {
  try {
    return lstatSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function readSkill(...parts: string[]): string {
  const file = path.join(skillsDir(), ...parts);
  const info = statSync(file);
  const version = `${info.size}:${info.mtimeMs}:${info.ctimeMs}:${info.ino}`;
  const known = SKILL_FILES.get(file);
  if (known?.version === version) return known.text;
  const text = readFileSync(file, 'utf8');
  SKILL_FILES.set(file, { version, text });
  return text;
}

const SKILL_FILES = new Map<string, { readonly version: string; readonly text: string }>();

/** The task file's Markdown. */
export function renderTask(h: Handover): string {
  const rows: [string, string | null][] = [
    ['ticket', h.ticketKey],
    ['repo', h.repoName],
    ['role', h.role],
    ['phase', h.phase],
    [h.phase.startsWith('plan') ? 'round' : 'attempt', h.counter],
    ['base commit', h.baseCommit],
    ['red commit', h.redCommit],
    ['test command', `\`${h.testCommand}\``],
    ['checks', h.checks.length ? h.checks.map((c) => `\`${c}\``).join(', ') : null],
    [
      'approved plan',
      h.approvedPlanSha ? `\`.loopwright/approved-plan.json\` sha256 ${h.approvedPlanSha}` : null,
    ],
    ['plan under review', h.plan && !h.approvedPlanSha ? '`.loopwright/plan.json`' : null],
    ['report', `\`.loopwright/report.json\`, contract: \`${CONTRACT_FILE}\``],
    ['charter', `\`${CHARTER_FILE}\` (a copy; the orchestrator never reads it back)`],
  ];
  const lines = [`# ${h.ticketKey} — ${h.title}`, '', '| field | value |', '|---|---|'];
  for (const [k, v] of rows) if (v) lines.push(`| ${k} | ${v} |`);
  lines.push('', '## Ticket', h.body.trim() || '(no description)');
  if (h.plan) {
    lines.push('', '## Allowed files', ...h.plan.allowedFiles.map((g) => `- \`${g}\``));
    lines.push('', '## Test files', ...h.plan.testFiles.map((g) => `- \`${g}\``));
    lines.push(
      '',
      '## Acceptance criteria',
      ...h.plan.acceptanceCriteria.map((c, i) => `${i + 1}. ${c.name} — test \`${c.test}\``),
    );
  }
  if (h.findings.length) {
    lines.push(
      '',
      h.phase === 'plan_revise' ? '## Critiques to answer' : '## Previous findings',
      ...h.findings.map((f, i) => `${i + 1}. ${f}`),
    );
  }
  lines.push('', '## Your job', JOBS[h.phase], '');
  return lines.join('\n');
}

/** A repository rulebook larger than this (256 KiB) is left out of the system prompt. */
const RULEBOOK_MAX_BYTES = 256 * 1024;

/**
 * The system prompt: the role's charter, the shared contracts it needs, and the repo's rulebook.
 */
export async function systemPromptFor(role: Role, worktree: string): Promise<string> {
  const charters = [readSkill(role, 'SKILL.md'), readSkill('shared', 'report-contract.md')];
  if (role !== 'generator') charters.push(readSkill('shared', 'plan-format.md'));
  // Untrusted: a symlinked AGENTS.md must not put its target into the prompt.
  const rules = await Promise.all(
    ['AGENTS.md', 'CLAUDE.md'].map(async (rulebook) => {
      const read = await readUntrustedFile(worktree, rulebook, { maxBytes: RULEBOOK_MAX_BYTES });
      return read.ok && read.text.trim()
        ? [`# The repository's own rules (${rulebook})\n\n${read.text}`]
        : [];
    }),
  );
  return [...charters, ...rules.flat()].join('\n\n---\n\n');
}
