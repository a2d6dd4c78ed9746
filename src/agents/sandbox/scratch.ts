/**
 * The per-run private /tmp of a sandboxed process: a fresh host directory (mode 0700, owned by the
 * process's user) bound at /tmp, with the private HOME inside it. A new one for every run, removed
 * after it, so nothing one run leaves in /tmp or HOME reaches the next.
 */
import { chmodSync, lchownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SandboxUser } from './sandbox-user.js';

/**
 * Git in the sandbox works on trees owned by someone else (the orchestrator) and needs an
 * identity for commits; nothing else is configured.
 */
export const SANDBOX_GITCONFIG = `[safe]
\tdirectory = *
[user]
\tname = loopwright agent
\temail = agent@loopwright.invalid
[init]
\tdefaultBranch = main
`;

/**
 * Create the scratch directory (`<tmpdir>/loopwright-sbx-XXXXXX/` with `home/.gitconfig`) and
 * give it to `user`. Synchronous calls on purpose: a handful of local syscalls, where a hop
 * through libuv's thread pool per call cost tens of milliseconds per run on a busy machine.
 */
export async function createScratch(user: SandboxUser | undefined): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loopwright-sbx-'));
  const home = path.join(dir, 'home');
  mkdirSync(home, { mode: 0o700 });
  const gitconfig = path.join(home, '.gitconfig');
  writeFileSync(gitconfig, SANDBOX_GITCONFIG, { mode: 0o644 });
  if (user) {
    for (const p of [dir, home, gitconfig]) lchownSync(p, user.uid, user.gid);
  }
  chmodSync(dir, 0o700);
  return dir;
}

/** Delete a scratch directory, whatever modes the process left inside it. */
export async function removeScratch(dir: string): Promise<void> {
  try {
    await fs.rm(dir, { recursive: true, force: true });
  } catch {
    await makeRemovable(dir);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Removals started by {@link removeScratchSoon} and not finished yet. */
const REMOVING = new Set<Promise<void>>();

/**
 * Start removing a scratch directory off the event loop and return at once: its run is over and
 * nothing uses it again (the next run gets a new one), so the run's result need not wait for the
 * file system (unlink and rmdir took ~2 ms per run on a disk mounted with `discard`). A removal
 * that fails leaves the directory to `loopwright gc`. {@link settleScratchRemovals} waits for the
 * ones under way.
 */
export function removeScratchSoon(dir: string): void {
  const removal = removeScratch(dir)
    .catch(() => undefined)
    .finally(() => REMOVING.delete(removal));
  REMOVING.add(removal);
}

/** Wait until every removal started by {@link removeScratchSoon} has finished. */
export async function settleScratchRemovals(): Promise<void> {
  while (REMOVING.size > 0) await Promise.all([...REMOVING]);
}

/** chmod u+rwx every directory (a non-root orchestrator cannot list a 0000 directory). */
async function makeRemovable(dir: string): Promise<void> {
  await fs.chmod(dir, 0o700).catch(() => {});
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory()) await makeRemovable(path.join(dir, entry.name));
  }
}
