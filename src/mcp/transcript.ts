/**
 * Reading the tail of a run's transcript for the `logs` tool: only files inside LOOPWRIGHT_HOME
 * (symlinks resolved first, so a transcript path pointing elsewhere is refused), at most `maxBytes`
 * read from the end, the first partial line dropped, and secrets redacted.
 */
import { open, realpath } from 'node:fs/promises';
import { BadInputError } from '../errors.js';
import { redact } from './redact.js';
import { relativeToHome } from './views.js';

export interface TranscriptTail {
  /** Relative to the home; null when the run has no transcript yet. */
  readonly path: string | null;
  readonly sizeBytes: number;
  readonly truncated: boolean;
  readonly lines: readonly string[];
}

/** Longest single line returned; longer ones are cut with a marker. */
const MAX_LINE = 4_000;

export async function readTranscriptTail(
  file: string | null,
  home: string,
  maxBytes: number,
  secrets: readonly string[] = [],
): Promise<TranscriptTail> {
  if (!file) return { path: null, sizeBytes: 0, truncated: false, lines: [] };
  const [realHome, realFile] = await Promise.all([
    realpath(home).catch(() => home),
    realpath(file).catch(() => null),
  ]);
  if (realFile === null)
    return { path: relativeToHome(file, home), sizeBytes: 0, truncated: false, lines: [] };
  const rel = relativeToHome(realFile, realHome);
  if (rel === null) throw new BadInputError("the run's transcript lies outside the factory's home");
  const handle = await open(realFile, 'r');
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    let lines = buffer.toString('utf8').split('\n');
    if (start > 0) lines = lines.slice(1);
    if (lines.at(-1) === '') lines.pop();
    return {
      path: rel,
      sizeBytes: size,
      truncated: start > 0,
      lines: lines.map((l) =>
        redact(l.length > MAX_LINE ? `${l.slice(0, MAX_LINE)} …[line cut]` : l, secrets),
      ),
    };
  } finally {
    await handle.close();
  }
}
