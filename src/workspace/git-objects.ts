/**
 * git's object formats, parsed in-process (pure, no I/O): tree objects (binary entries, modes made
 * canonical as git's own readers do) and commit objects (tree, parents, message, trailers). The
 * bytes come from object-store.ts; what they mean is decided here.
 */

/** One entry of a tree listing: mode as `ls-tree` prints it (`100644`, `040000`...) and object. */
export interface TreeEntry {
  readonly mode: string;
  readonly sha: string;
}

/** One entry of a single tree object (not recursive). */
export interface TreeRecord extends TreeEntry {
  readonly name: string;
}

/** A parsed commit object. */
export interface CommitObject {
  readonly sha: string;
  readonly tree: string;
  /** First parent first. */
  readonly parents: readonly string[];
  /** Everything after the header's blank line. */
  readonly message: string;
}

/** The mode of a subtree entry, as `ls-tree` prints it. */
export const TREE_MODE = '040000';

/** A tree or commit object that does not parse. */
export class MalformedObjectError extends Error {
  readonly code = 'GIT_OBJECT_MALFORMED';
}

/**
 * The mode git reads for a tree entry's raw octal mode (`canon_mode`): any regular file becomes
 * `100644` or `100755` by its owner-execute bit, then symlink, directory, and everything else a
 * gitlink. Null when `raw` is not octal digits.
 *
 * @example
 * canonicalMode('100664'); // '100644'
 * canonicalMode('40000'); // '040000'
 */
export function canonicalMode(raw: string): string | null {
  if (!/^[0-7]{1,7}$/.test(raw)) return null;
  const mode = Number.parseInt(raw, 8);
  const type = mode & 0o170000;
  if (type === 0o100000) return mode & 0o100 ? '100755' : '100644';
  if (type === 0o120000) return '120000';
  if (type === 0o040000) return TREE_MODE;
  return '160000';
}

/**
 * The entries of one tree object: `<octal mode> <name>\0<binary object id>` repeated, ids of
 * `hashBytes` bytes (20 for SHA-1, 32 for SHA-256).
 *
 * @throws {MalformedObjectError} for a truncated entry, a bad mode or an empty name.
 * @example
 * ```ts
 * const entries = parseTree(content, 20); // [{ mode: '100644', name: 'README', sha: '…' }]
 * ```
 */
export function parseTree(content: Buffer, hashBytes: number): TreeRecord[] {
  const entries: TreeRecord[] = [];
  let at = 0;
  while (at < content.length) {
    const space = content.indexOf(0x20, at);
    const nul = space === -1 ? -1 : content.indexOf(0, space + 1);
    if (nul === -1 || nul + 1 + hashBytes > content.length)
      throw new MalformedObjectError('truncated tree entry');
    const mode = canonicalMode(content.toString('latin1', at, space));
    if (mode === null) throw new MalformedObjectError('malformed mode in tree entry');
    if (nul === space + 1) throw new MalformedObjectError('empty filename in tree entry');
    entries.push({
      mode,
      name: content.toString('utf8', space + 1, nul),
      sha: content.toString('hex', nul + 1, nul + 1 + hashBytes),
    });
    at = nul + 1 + hashBytes;
  }
  return entries;
}

const OBJECT_ID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * A commit object's tree, parents and message.
 *
 * @throws {MalformedObjectError} when the header has no valid `tree` line.
 * @example
 * ```ts
 * const commit = parseCommit(sha, content); // { sha, tree, parents: [first], message }
 * ```
 */
export function parseCommit(sha: string, content: Buffer): CommitObject {
  const text = content.toString('utf8');
  const end = text.indexOf('\n\n');
  const header = end === -1 ? text : text.slice(0, end);
  const message = end === -1 ? '' : text.slice(end + 2);
  let tree: string | undefined;
  const parents: string[] = [];
  for (const line of header.split('\n')) {
    if (line.startsWith('tree ') && tree === undefined) tree = line.slice(5);
    else if (line.startsWith('parent ')) parents.push(line.slice(7));
  }
  if (!tree || !OBJECT_ID.test(tree) || !parents.every((p) => OBJECT_ID.test(p)))
    throw new MalformedObjectError(`malformed commit ${sha}`);
  return { sha, tree, parents, message };
}

const TRAILER_LINE = /^([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$/;

/**
 * The first value of trailer `key` (case-insensitive, as git compares keys) in a commit message's
 * trailer block: its last paragraph, when every line of it is a `Key: value` trailer or the
 * continuation (leading whitespace) of one. Null when there is no such trailer.
 *
 * @example
 * trailerValue('Fix\n\nLoopwright-Run: 1234\n', 'Loopwright-Run'); // '1234'
 */
export function trailerValue(message: string, key: string): string | null {
  const paragraphs = message.replace(/\s+$/, '').split(/\n[ \t]*\n/);
  if (paragraphs.length < 2) return null;
  const lines = paragraphs.at(-1)!.split('\n');
  let found: string | null = null;
  for (const [i, line] of lines.entries()) {
    if (/^[ \t]/.test(line) && i > 0) continue;
    const match = TRAILER_LINE.exec(line);
    if (!match) return null;
    if (found === null && match[1]!.toLowerCase() === key.toLowerCase()) found = match[2]!.trim();
  }
  return found;
}
