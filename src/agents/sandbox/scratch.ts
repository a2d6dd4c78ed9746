/**
 * The per-run private /tmp of a sandboxed process: a fresh host directory (mode 0700, owned by the
 * process's user) bound at /tmp, with the private HOME inside it. A new one for every run, removed
 * after it, so nothing one run leaves in /tmp or HOME reaches the next.
 */
import { chmodSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ownerTag } from '../process-identity.js';
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
 * give it to `user`; while a factory runs ({@link keepSpareScratch}) the directory comes ready-made
 * and the next one is made once this run has started. Synchronous calls on purpose: a handful of
 * local syscalls, where a hop through libuv's thread pool per call cost tens of milliseconds per
 * run on a busy machine.
 */
export async function createScratch(user: SandboxUser | undefined): Promise<string> {
  const dir = takeSpare() ?? makeScratch();
  if (user) {
    const home = path.join(dir, 'home');
    for (const p of [dir, home, path.join(home, '.gitconfig')]) lchownSync(p, user.uid, user.gid);
  }
  if (spareHolders > 0) setImmediate(refillSpare);
  return dir;
}

/**
 * A new scratch directory, still the orchestrator's (mode 0700: nobody else can even look in
 * until it is given to a run's user).
 */
function makeScratch(): string {
  // Named after this process, so that gc removes the one a killed orchestrator left at once.
  const dir = mkdtempSync(path.join(os.tmpdir(), `loopwright-sbx-${ownerTag()}`));
  chmodSync(dir, 0o700);
  const home = path.join(dir, 'home');
  mkdirSync(home, { mode: 0o700 });
  writeFileSync(path.join(home, '.gitconfig'), SANDBOX_GITCONFIG, { mode: 0o644 });
  return dir;
}

/** A directory made ahead for the next run, never handed to one yet (or null). */
let spare: string | null = null;
/** How many holders of {@link keepSpareScratch} there are (factories running in this process). */
let spareHolders = 0;

/** Made ahead at most this long ago: an older one is made anew (gc sweeps day-old ones). */
const SPARE_MAX_AGE_MS = 10 * 60_000;

/** The spare, if it is still there as made and recent enough; it is no longer the spare. */
function takeSpare(): string | null {
  const dir = spare;
  spare = null;
  if (dir === null) return null;
  const info = lstatSync(dir, { throwIfNoEntry: false });
  if (info?.isDirectory() && Date.now() - info.mtimeMs < SPARE_MAX_AGE_MS) return dir;
  removeScratchSoon(dir);
  return null;
}

function refillSpare(): void {
  if (spare !== null || spareHolders === 0) return;
  try {
    spare = makeScratch();
  } catch {
    // A full or unwritable tmpdir: the next run makes its own and says why if it cannot.
  }
}

/**
 * Keep one scratch directory made ahead, so that a run's launch does not wait for creating it
 * (mkdtemp, mkdir and a file took ~2.5 ms per run on a disk mounted with `discard`); the
 * directory is only ever handed to one run. Returns the release: the last holder's removes the
 * spare (see {@link settleScratchRemovals}).
 *
 * @example
 * ```ts
 * const release = keepSpareScratch();
 * try { await runFactory(); } finally { release(); await settleScratchRemovals(); }
 * ```
 */
export function keepSpareScratch(): () => void {
  spareHolders++;
  setImmediate(refillSpare);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    spareHolders--;
    if (spareHolders > 0 || spare === null) return;
    removeScratchSoon(spare);
    spare = null;
  };
}

/** Delete a scratch directory, whatever modes the process left inside it. */
async function removeScratch(dir: string): Promise<void> {
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
