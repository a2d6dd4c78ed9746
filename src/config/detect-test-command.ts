/**
 * `repo add` without `--test-cmd`: find the repository's own test command from the files it has
 * (package.json `scripts.test`, pytest, cargo, go, `make test`), so a repository is never
 * registered with a guessed `npm test` it does not have. Reads files only; runs nothing.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** A detected test command and the file that says so. */
export interface DetectedTestCommand {
  readonly command: string;
  readonly because: string;
}

/** npm's placeholder for "no tests": not a test command. */
const NPM_PLACEHOLDER = /no test specified/;

/**
 * The first match, in this order: package.json scripts.test, pytest, Cargo.toml, go.mod,
 * a Makefile `test:` target. Null when none fits.
 *
 * @example
 * ```ts
 * detectTestCommand('/src/app');
 * // { command: 'npm test', because: 'package.json has scripts.test' }
 * ```
 */
export function detectTestCommand(dir: string): DetectedTestCommand | null {
  const read = (name: string) => {
    try {
      return readFileSync(path.join(dir, name), 'utf8');
    } catch {
      return null;
    }
  };
  const pkg = read('package.json');
  if (pkg !== null) {
    const test = npmTestScript(pkg);
    if (test) return { command: 'npm test', because: 'package.json has scripts.test' };
  }
  if (pytestConfigured(dir, read))
    return { command: 'python -m pytest', because: 'the repository is configured for pytest' };
  if (existsSync(path.join(dir, 'Cargo.toml')))
    return { command: 'cargo test', because: 'Cargo.toml is present' };
  if (existsSync(path.join(dir, 'go.mod')))
    return { command: 'go test ./...', because: 'go.mod is present' };
  for (const name of ['Makefile', 'makefile', 'GNUmakefile']) {
    const make = read(name);
    if (make !== null && /^test\s*:/m.test(make))
      return { command: 'make test', because: `${name} has a test target` };
  }
  return null;
}

function npmTestScript(text: string): string | null {
  try {
    const parsed = JSON.parse(text) as { scripts?: Record<string, unknown> };
    const test = parsed.scripts?.test;
    return typeof test === 'string' && test.trim() && !NPM_PLACEHOLDER.test(test) ? test : null;
  } catch {
    return null;
  }
}

function pytestConfigured(dir: string, read: (name: string) => string | null): boolean {
  if (existsSync(path.join(dir, 'pytest.ini')) || existsSync(path.join(dir, 'conftest.py')))
    return true;
  if (/\[tool\.pytest/.test(read('pyproject.toml') ?? '')) return true;
  if (/\[(?:tool:)?pytest\]/.test(`${read('setup.cfg') ?? ''}${read('tox.ini') ?? ''}`))
    return true;
  const tests = path.join(dir, 'tests');
  try {
    return readdirSync(tests).some((f) => /^test_.*\.py$|_test\.py$/.test(f));
  } catch {
    return false;
  }
}
