/**
 * The glob dialect of a plan's allowed files. Small on purpose, so a reader can predict every
 * match:
 *
 * - paths are relative to the repository top, separated by `/`, matched case-sensitively;
 * - `*` matches any run of characters within one segment, `?` exactly one, neither crosses `/`;
 * - a segment that is exactly `**` matches zero or more whole segments (`a/**` needs at least one);
 * - a trailing `/` means "everything under": `src/` is `src/**`;
 * - dot-files are ordinary: `src/**` covers `src/.env` (a scope is about places, not visibility);
 * - everything else is literal, including `[`, `{` and `!` (no classes, braces or negation).
 *
 * Refused (see {@link checkGlob}): empty globs, absolute paths, `\`, and `.`/`..`/empty segments.
 *
 * Why not `path.matchesGlob`: on Node 20 it is experimental (prints a warning), hides dot-files
 * from `*`/`**` and treats `[...]`/`{...}` as syntax, so `app/[id]/page.tsx` would not match
 * itself.
 */

/** Why a glob is refused, or null when it is acceptable. */
export function checkGlob(glob: string): string | null {
  if (glob.length === 0) return 'empty glob';
  if (glob.startsWith('/') || /^[A-Za-z]:/.test(glob)) return 'absolute path';
  if (glob.includes('\\')) return 'backslash (use / and no escapes)';
  const segments = normalise(glob).split('/');
  for (const segment of segments) {
    if (segment === '..') return 'parent-directory segment (..)';
    if (segment === '.' || segment === '') return 'empty or "." segment';
  }
  return null;
}

/**
 * Compile a glob to an anchored regular expression.
 *
 * @throws Error when {@link checkGlob} refuses the glob.
 * @example `globToRegExp('src/**\/*.ts').test('src/a/b.ts') // true`
 */
export function globToRegExp(glob: string): RegExp {
  const problem = checkGlob(glob);
  if (problem) throw new Error(`invalid glob ${JSON.stringify(glob)}: ${problem}`);
  const segments = normalise(glob).split('/');
  const last = segments.length - 1;
  const body = segments
    .map((segment, index) => {
      if (segment === '**') return index === last ? '(?:[^/]+/)*[^/]+' : '(?:[^/]+/)*';
      return segmentSource(segment) + (index === last ? '' : '/');
    })
    .join('');
  return new RegExp(`^${body}$`);
}

/**
 * True when the repository-relative `file` matches `glob` (see the module doc for the dialect).
 *
 * @example `matchesGlob('src/.env', 'src/**') // true`
 */
export function matchesGlob(file: string, glob: string): boolean {
  return globToRegExp(glob).test(file);
}

/** Strip one leading `./`; turn a trailing `/` into `/**`. */
function normalise(glob: string): string {
  const trimmed = glob.startsWith('./') ? glob.slice(2) : glob;
  return trimmed.endsWith('/') && trimmed.length > 1 ? `${trimmed}**` : trimmed;
}

function segmentSource(segment: string): string {
  let out = '';
  for (const char of segment) {
    if (char === '*') out += out.endsWith('[^/]*') ? '' : '[^/]*';
    else if (char === '?') out += '[^/]';
    else out += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return out;
}
