/**
 * Reading a file an agent could have written: regular files only, never through a symlink (neither
 * the file itself nor any directory between the trusted root and it), never a FIFO or device,
 * size-capped, decoded as strict UTF-8. Anything else is an answer ("not a regular file"), never
 * the content of whatever a link points at. {@link readWalkedFile} is the same refusal for the
 * bytes of a workspace file a walk is hashing.
 */
import { closeSync, constants, fstatSync, openSync, read, readSync } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { FileSwappedError } from './errors.js';

/** Why an untrusted file was not read. */
export type UntrustedReadFailure =
  | 'missing'
  | 'not-regular'
  | 'too-large'
  | 'not-utf8'
  | 'unsafe-path';

/** The outcome of {@link readUntrustedFile}. */
export type UntrustedRead =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly why: UntrustedReadFailure; readonly message: string };

/** Default cap: 1 MiB. */
export const UNTRUSTED_READ_MAX_BYTES = 1024 * 1024;

/**
 * Read `<root>/<relative>` as untrusted input. `root` is trusted (the orchestrator made it);
 * every component below it must be a real directory, the last a regular file of at most
 * `maxBytes` bytes (default {@link UNTRUSTED_READ_MAX_BYTES}).
 *
 * @example
 * ```ts
 * const r = await readUntrustedFile(ws, '.loopwright/report.json');
 * if (!r.ok) return { errors: [r.message] };
 * ```
 */
export async function readUntrustedFile(
  root: string,
  relative: string,
  options: { readonly maxBytes?: number } = {},
): Promise<UntrustedRead> {
  const maxBytes = options.maxBytes ?? UNTRUSTED_READ_MAX_BYTES;
  const parts = relative.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.includes('..') || path.isAbsolute(relative))
    return fail('unsafe-path', `${relative}: not a path inside the workspace`);
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    const info = await lstat(dir).catch(() => null);
    if (!info) return fail('missing', `${relative} is missing`);
    if (!info.isDirectory())
      return fail('not-regular', `${relative}: ${part} is not a directory (a symlink?)`);
  }
  const file = path.join(root, ...parts);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NOFOLLOW: a symlink fails with ELOOP; O_NONBLOCK: a FIFO cannot block the orchestrator.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return fail('missing', `${relative} is missing`);
    if (code === 'ELOOP' || code === 'EMLINK')
      return fail('not-regular', `${relative} is a symlink, not a regular file`);
    return fail('not-regular', `${relative} cannot be opened (${code ?? 'error'})`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return fail('not-regular', `${relative} is not a regular file`);
    if (info.size > maxBytes)
      return fail('too-large', `${relative} is larger than ${maxBytes} bytes (${info.size})`);
    // Sized by the file (one byte over, to see it grow while read), not by the cap: a 1 MiB
    // zero-filled buffer per report read was most of the read's cost. Only the bytes read are
    // ever decoded, so the buffer need not be zeroed.
    let buffer = Buffer.allocUnsafe(Math.min(info.size, maxBytes) + 1);
    let length = 0;
    while (length <= maxBytes) {
      if (length === buffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(buffer.length * 2, maxBytes + 1));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) return fail('too-large', `${relative} is larger than ${maxBytes} bytes`);
    try {
      return {
        ok: true,
        text: new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, length)),
      };
    } catch {
      return fail('not-utf8', `${relative} is not valid UTF-8`);
    }
  } finally {
    await handle.close();
  }
}

function fail(why: UntrustedReadFailure, message: string): UntrustedRead {
  return { ok: false, why, message };
}

/** Files up to this size are read by {@link readWalkedFile} with synchronous calls. */
const SYNC_READ_MAX_BYTES = 64 * 1024;
/** Past the file's size at opening, it is read on in chunks of this size. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * The bytes of a file in a workspace walk (hashing, staging) that the walk's `lstat` just saw as
 * a regular file, read through one descriptor opened without following a link and without
 * waiting on a FIFO: what was swapped in since (a link to a file outside, a FIFO, a device) is an
 * error, never read. A small file is read with synchronous calls — a thread-pool hop per file
 * made hashing a fresh 2,000-file workspace take ~450 ms instead of ~30.
 *
 * @throws {FileSwappedError} when the path is no longer a regular file (an ELOOP error for a link);
 *   ENOENT when it is gone.
 * @example
 * ```ts
 * if (statOrNull(full)?.isFile()) sha = objectId('blob', await readWalkedFile(full), algorithm);
 * ```
 */
export async function readWalkedFile(full: string): Promise<Buffer> {
  const fd = openSync(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const info = fstatSync(fd, { bigint: true });
    if (!info.isFile()) throw new FileSwappedError(full);
    const size = Number(info.size);
    const sync = size <= SYNC_READ_MAX_BYTES;
    const chunks: Buffer[] = [];
    let at = 0;
    // One byte over the size first: a file that grew meanwhile is read on to its end.
    let chunk = Buffer.allocUnsafe(Math.min(size + 1, CHUNK_BYTES));
    for (;;) {
      const n = sync
        ? readSync(fd, chunk, 0, chunk.length, at)
        : (await readAt(fd, chunk, 0, chunk.length, at)).bytesRead;
      if (n === 0) return Buffer.concat(chunks, at);
      chunks.push(chunk.subarray(0, n));
      at += n;
      chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    }
  } finally {
    closeSync(fd);
  }
}

const readAt = promisify(read);
