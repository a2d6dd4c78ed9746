/**
 * The sandbox contract shared by agents and gate commands: what one sandboxed process may touch.
 * Paths are checked here (zod at the boundary); the argv builder turns a checked spec into bwrap.
 */
import path from 'node:path';
import { z } from 'zod';
import { LoopwrightError } from '../../errors.js';

export const SANDBOX_MODES = ['bwrap', 'none'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

/** What one sandboxed process (agent or gate command) may touch. */
export interface SandboxSpec {
  readonly mode: SandboxMode;
  /** Trees the process may write: the ticket's workspace, or a gate's scratch checkout. */
  readonly writable: readonly string[];
  /** Trees bound read-only on top (e.g. `<workspace>/.git`, the object store a clone borrows). */
  readonly readOnly?: readonly string[];
  /**
   * Trees made invisible (empty tmpfs), e.g. the registered repository's path. The sandbox always
   * also hides LOOPWRIGHT_HOME, the embedded cluster's data dir and the orchestrator's $HOME
   * (writable/readOnly binds are applied after the hides, so a workspace under the home stays
   * visible).
   */
  readonly hide?: readonly string[];
}

/** A spec the sandbox cannot honour (relative path, `/` as a writable tree, symlink redirect). */
export class SandboxSpecError extends LoopwrightError {
  constructor(message: string) {
    super('SANDBOX_SPEC', message);
  }
}

/** The sandbox is required but does not work on this host. */
export class SandboxUnavailableError extends LoopwrightError {
  constructor(message: string) {
    super('SANDBOX_UNAVAILABLE', message);
  }
}

const absolutePath = z
  .string()
  .min(1)
  .refine((p) => path.isAbsolute(p), { message: 'sandbox paths must be absolute' })
  .refine((p) => !p.includes('\0'), { message: 'sandbox paths must not contain NUL' });

export const sandboxSpecSchema = z.object({
  mode: z.enum(SANDBOX_MODES),
  writable: z.array(absolutePath),
  readOnly: z.array(absolutePath).optional(),
  hide: z.array(absolutePath).optional(),
});

/** Validate a spec from a caller; throws {@link SandboxSpecError} with the first problem. */
export function parseSandboxSpec(spec: unknown): SandboxSpec {
  const parsed = sandboxSpecSchema.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SandboxSpecError(
      `invalid sandbox spec at ${issue?.path.join('.')}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

/** True when `spec` asks for a real sandbox (absent or `none` means a plain process group). */
export function wantsSandbox(spec: SandboxSpec | undefined): spec is SandboxSpec {
  return spec !== undefined && spec.mode === 'bwrap';
}

/** Whether bwrap works here, which uid/gid agents run as, and why not. */
export interface SandboxStatus {
  readonly available: boolean;
  /** Absolute path of bwrap, when found. */
  readonly bwrap?: string;
  /** Absolute path of setpriv, when running as root. */
  readonly setpriv?: string;
  /** The account sandboxed processes run as (only when loopwright runs as root). */
  readonly user?: SandboxUser;
  /** Why the sandbox does not work (one line). */
  readonly reason?: string;
  /** What to do about it (one line). */
  readonly fix?: string;
}

/** The account sandboxed processes run as under root. */
export interface SandboxUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}
