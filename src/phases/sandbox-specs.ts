/**
 * What each sandboxed process of a ticket may touch (the SandboxSpec contract,
 * src/agents/sandbox): an agent writes its workspace's files only — the workspace's `.git` and the
 * object store it borrows are read-only, the registered repository is invisible; a gate command
 * writes its scratch checkout only. The mode is the repository's `sandbox` setting.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Role } from '../../machines/ticket.js';
import { agentFor } from '../config/repo-settings.js';
import { grantToSandbox, type SandboxSpec } from '../agents/sandbox/index.js';
import type { Worktree } from '../workspace/index.js';
import type { Dispatch } from './dispatch.js';

/**
 * The agent's sandbox: workspace writable, its `.git` and the borrowed objects read-only, plus the
 * operator's own agent configuration read-only (the scripted agent's script, absolute paths in a
 * `command` agent's argv), which may live under a private /tmp or a hidden home.
 */
export function agentSandbox(d: Dispatch, wt: Worktree, role: Role): SandboxSpec {
  const choice = agentFor(d.settings, role);
  const operatorFiles = [
    ...(d.settings.script ? [path.resolve(d.settings.script)] : []),
    ...(choice.provider === 'command'
      ? (choice.command ?? []).filter((arg) => path.isAbsolute(arg) && existsSync(arg))
      : []),
  ];
  return {
    mode: d.settings.sandbox,
    writable: [wt.path],
    readOnly: [path.join(wt.path, '.git'), path.join(wt.repoGitDir, 'objects'), ...operatorFiles],
    hide: [d.repo.path, wt.repoGitDir],
  };
}

/** A gate command's sandbox: only the scratch checkout is writable; the repository is invisible. */
export function gateSandbox(d: Dispatch, scratchDir: string, repoGitDir: string): SandboxSpec {
  return { mode: d.settings.sandbox, writable: [scratchDir], hide: [d.repo.path, repoGitDir] };
}

/** Hand the workspace's files (never its `.git`) to the sandbox user before an agent runs. */
export async function grantWorkspace(d: Dispatch, wt: Worktree): Promise<void> {
  if (d.settings.sandbox === 'bwrap') await grantToSandbox(wt.path, { exclude: ['.git'] });
}

/** Hand a scratch checkout to the sandbox user before a gate command runs in it. */
export async function grantScratch(d: Dispatch, dir: string): Promise<void> {
  if (d.settings.sandbox === 'bwrap') await grantToSandbox(dir);
}
