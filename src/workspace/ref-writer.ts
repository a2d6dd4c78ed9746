/**
 * Moving a repository's refs without a git process per move: one long-lived, hardened
 * `git update-ref --stdin` per git dir (started through git.ts), cached in-process, fed one
 * transaction at a time (`start`, the updates, `prepare`, `commit`). Every update names the value
 * the ref must have now, so each move is a compare-and-swap done by git's own ref locking, exactly
 * as a one-shot `update-ref <ref> <new> <old>`. A refused transaction ends that process (git
 * exits on the first error); the next transaction starts a new one. The process never keeps node
 * alive (unref'd), ends after {@link REF_WRITER_IDLE_MS} idle, with its owner (EOF on stdin) or on
 * {@link closeRefWriters}.
 */
import type { Socket } from 'node:net';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { startGit } from './git.js';

/** A writer idle this long ends its git process. */
export const REF_WRITER_IDLE_MS = 30_000;

/** One ref move: to `next` (null: delete), only from `expected` (null: the ref must not exist). */
export interface RefMove {
  readonly ref: string;
  readonly next: string | null;
  readonly expected: string | null;
}

/** What git said about a transaction: all moves made, or none (with git's reason). */
export type RefMoveResult = { readonly ok: true } | { readonly ok: false; readonly why: string };

const WRITERS = new Map<string, RefWriter>();
const ZERO = (sha: string | null, like: string) => sha ?? '0'.repeat(like.length);

/**
 * Move refs of the repository at `gitDir` in one all-or-nothing transaction, each only from the
 * value it names.
 *
 * @example
 * ```ts
 * const moved = await moveRefs(gitDir, [{ ref: 'refs/heads/loopwright/LW-1', next, expected }]);
 * if (!moved.ok) log.info({ why: moved.why }, 'Branch moved meanwhile');
 * ```
 */
export function moveRefs(gitDir: string, moves: readonly RefMove[]): Promise<RefMoveResult> {
  const lines: string[] = [];
  for (const m of moves) {
    const like = m.next ?? m.expected ?? '';
    if (![m.ref, m.next ?? '', m.expected ?? ''].every(safeToken) || like === '')
      return Promise.resolve({ ok: false, why: `refusing the ref move ${JSON.stringify(m)}` });
    lines.push(
      m.next === null
        ? `delete ${m.ref} ${ZERO(m.expected, like)}`
        : `update ${m.ref} ${m.next} ${ZERO(m.expected, like)}`,
    );
  }
  const key = path.resolve(gitDir);
  let writer = WRITERS.get(key);
  if (!writer) WRITERS.set(key, (writer = new RefWriter(key)));
  return writer.transact(lines);
}

/** One token of the stdin protocol: no whitespace or control characters. */
function safeToken(token: string): boolean {
  return [...token].every((c) => c.charCodeAt(0) > 0x20 && c.charCodeAt(0) !== 0x7f);
}

/** End every writer's git process and wait for it: for shutdown and tests. */
export async function closeRefWriters(): Promise<void> {
  const writers = [...WRITERS.values()];
  WRITERS.clear();
  await Promise.all(writers.map((w) => w.close()));
}

/** One `update-ref --stdin` process and what it has printed so far. */
interface Session {
  readonly child: ReturnType<typeof startGit>;
  readonly lines: string[];
  partial: string;
  stderr: string;
  ended: boolean;
  wake: (() => void) | null;
}

/** The pids of the writers' running git processes (for tests). */
export function refWriterPids(): number[] {
  return [...WRITERS.values()].flatMap((w) => w.pid ?? []);
}

class RefWriter {
  private session: Session | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private idle: NodeJS.Timeout | undefined;

  constructor(readonly gitDir: string) {}

  get pid(): number | undefined {
    return this.session && !this.session.ended ? this.session.child.pid : undefined;
  }

  transact(lines: readonly string[]): Promise<RefMoveResult> {
    const run = this.queue.then(() => this.run(lines));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    clearTimeout(this.idle);
    const session = this.session;
    this.session = null;
    if (!session || session.ended) return Promise.resolve();
    return new Promise((resolve) => {
      session.child.once('close', () => resolve());
      session.child.stdin.end();
    });
  }

  private async run(lines: readonly string[]): Promise<RefMoveResult> {
    clearTimeout(this.idle);
    const session = this.session && !this.session.ended ? this.session : this.spawn();
    socket(session.child.stdout).ref();
    session.child.stdin.write(`start\n${lines.map((l) => `${l}\n`).join('')}prepare\ncommit\n`);
    for (const want of ['start: ok', 'prepare: ok', 'commit: ok']) {
      const line = await nextLine(session);
      if (line === want) continue;
      // git refused (it exits on the first error) or said something unexpected: this process
      // is done; its last words say why.
      this.session = null;
      if (line !== null) session.child.kill('SIGKILL');
      while ((await nextLine(session)) !== null);
      return { ok: false, why: session.stderr.trim() || line || 'git update-ref exited' };
    }
    socket(session.child.stdout).unref();
    this.idle = setTimeout(() => void this.close(), REF_WRITER_IDLE_MS);
    this.idle.unref();
    return { ok: true };
  }

  private spawn(): Session {
    // Every move's reflog entry (the base branch's, the ticket branches') says who made it.
    const args = ['update-ref', '-m', 'loopwright', '--stdin'];
    const child = startGit(this.gitDir, args, { gitDir: this.gitDir });
    const session: Session = {
      child,
      lines: [],
      partial: '',
      stderr: '',
      ended: false,
      wake: null,
    };
    this.session = session;
    const poke = () => {
      const wake = session.wake;
      session.wake = null;
      wake?.();
    };
    child.unref();
    child.stdin.on('error', () => undefined); // a dead process is handled by 'close'
    child.stdout.on('data', (chunk: Buffer) => {
      const parts = (session.partial + chunk.toString('utf8')).split('\n');
      session.partial = parts.pop()!;
      session.lines.push(...parts);
      poke();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      session.stderr = (session.stderr + chunk.toString('utf8')).slice(-4096);
    });
    const end = (error?: Error) => {
      if (error) session.stderr ||= error.message;
      session.ended = true;
      poke();
    };
    child.on('close', () => end());
    child.on('error', end);
    socket(child.stdin).unref();
    socket(child.stderr).unref();
    return session;
  }
}

/** The next line git printed, or null once its process has ended. */
async function nextLine(session: Session): Promise<string | null> {
  for (;;) {
    const line = session.lines.shift();
    if (line !== undefined) return line;
    if (session.ended) return null;
    await new Promise<void>((resolve) => {
      session.wake = resolve;
    });
  }
}

/** A child's pipe is a `net.Socket` (typed as a plain stream): it can be (un)ref'd. */
function socket(stream: Readable | Writable): Socket {
  return stream as Socket;
}
