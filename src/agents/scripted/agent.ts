/**
 * The scripted agent: a deterministic stand-in for Claude Code that speaks its stream-json
 * protocol (system init line, assistant lines, a final result line), so the demo and the tests
 * drive the very adapter production uses. It plays the first step of the script in
 * `LOOPWRIGHT_SCRIPT` that matches the task identity (`LOOPWRIGHT_TICKET`, `..._TICKET_TITLE`,
 * `..._ROLE`, `..._PHASE`, `..._ATTEMPT`, `..._ROUND`). Claude-style flags on the command line are
 * accepted and ignored, except `--model`.
 *
 * It refuses nothing: writes may escape the worktree and symlinks may point anywhere, because the
 * orchestrator's gates — not the agent — must catch that.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  findStep,
  identityFromEnv,
  loadScript,
  type ScriptStep,
  type TaskIdentity,
} from './script.js';

const REPORT_PATH = '.loopwright/report.json';

const sessionId = randomUUID();
const model = flagValue('--model') ?? 'scripted';
const started = Date.now();

function emit(event: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) =>
    process.stdout.write(`${JSON.stringify(event)}\n`, () => resolve()),
  );
}

function say(text: string): Promise<void> {
  return emit({
    type: 'assistant',
    session_id: sessionId,
    parent_tool_use_id: null,
    message: {
      id: `msg_${randomUUID()}`,
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text }],
      stop_reason: null,
      usage: { input_tokens: 0, output_tokens: 0 },
    },
  });
}

async function finish(
  step: Pick<ScriptStep, 'costUsd' | 'tokensIn' | 'tokensOut'>,
  isError: boolean,
  summary: string,
  exitCode: number,
): Promise<never> {
  await emit({
    type: 'result',
    subtype: isError ? 'error_during_execution' : 'success',
    is_error: isError,
    duration_ms: Date.now() - started,
    num_turns: 1,
    result: summary,
    session_id: sessionId,
    total_cost_usd: step.costUsd ?? 0,
    usage: {
      input_tokens: step.tokensIn ?? 0,
      output_tokens: step.tokensOut ?? 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
  });
  process.exit(exitCode);
}

async function main(): Promise<void> {
  const identity = identityFromEnv(process.env);
  await emit({
    type: 'system',
    subtype: 'init',
    cwd: process.cwd(),
    session_id: sessionId,
    model,
    tools: [],
    mcp_servers: [],
    permissionMode: flagValue('--permission-mode') ?? 'default',
    apiKeySource: 'none',
    claude_code_version: 'loopwright-scripted',
  });
  const scriptFile = process.env.LOOPWRIGHT_SCRIPT;
  if (!scriptFile) return finish({}, true, 'LOOPWRIGHT_SCRIPT is not set', 2);
  let step: ScriptStep | undefined;
  try {
    step = findStep(loadScript(scriptFile), identity);
  } catch (error) {
    return finish({}, true, `cannot read script ${scriptFile}: ${(error as Error).message}`, 2);
  }
  if (!step) return finish({}, true, `no scripted step matches ${describe(identity)}`, 1);
  await play(step);
  const isError = step.isError ?? false;
  await finish(
    step,
    isError,
    isError ? 'scripted step reported an error' : 'scripted step done',
    step.exitCode ?? (isError ? 1 : 0),
  );
}

async function play(step: ScriptStep): Promise<void> {
  if (step.floodBytes) await flood(step.floodBytes);
  for (const file of step.remove ?? []) {
    rmSync(file, { recursive: true, force: true });
    await say(`removed ${file}`);
  }
  for (const [file, content] of Object.entries(step.write ?? {})) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    await say(`wrote ${file}`);
  }
  for (const [link, target] of Object.entries(step.symlink ?? {})) {
    mkdirSync(path.dirname(link), { recursive: true });
    rmSync(link, { force: true });
    symlinkSync(target, link);
    await say(`linked ${link} -> ${target}`);
  }
  if (step.rawReport !== undefined || step.report !== undefined) {
    mkdirSync(path.dirname(REPORT_PATH), { recursive: true });
    writeFileSync(REPORT_PATH, step.rawReport ?? `${JSON.stringify(step.report, null, 2)}\n`);
    await say(`wrote ${REPORT_PATH}`);
  }
  if (step.sleepMs) await delay(step.sleepMs);
  if (step.hang) await hang();
}

/** Never returns: a helper child that sleeps too (same process group), then sleep forever. */
async function hang(): Promise<never> {
  const helper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], {
    stdio: 'ignore',
  });
  await emit({ type: 'system', subtype: 'hang', session_id: sessionId, helper_pid: helper.pid });
  return new Promise<never>(() => setInterval(() => {}, 1 << 30));
}

async function flood(bytes: number): Promise<void> {
  const line = `${'x'.repeat(1023)}\n`;
  for (let sent = 0; sent < bytes; sent += line.length) {
    if (!process.stdout.write(line))
      await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}

function describe(identity: TaskIdentity): string {
  return JSON.stringify(identity);
}

function flagValue(flag: string): string | undefined {
  const args = process.argv.slice(2);
  const end = args.indexOf('--');
  const index = args.indexOf(flag);
  return index !== -1 && (end === -1 || index < end) ? args[index + 1] : undefined;
}

main().catch(async (error: unknown) => {
  await finish({}, true, `scripted agent crashed: ${(error as Error).message}`, 1);
});
