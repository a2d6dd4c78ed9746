/**
 * The file half of the RED gate: in RED the Generator writes tests and nothing else. (The other
 * half, "the test command fails", is `runCommandGate` expecting failure.)
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { changedPaths } from './changes.js';
import type { GateResult, Violation } from './gate-result.js';
import { checkGlob, globToRegExp } from './glob.js';
import { scopeViolations } from './scope-gate.js';

/**
 * Pass when, since `baseRef`: every change is a test file (all scope-gate rules, with `testGlobs`
 * as the allowed set), at least one test file was added or modified, and every file in
 * `plannedTestFiles` exists as a regular file. Scope breaches fail as SCOPE_VIOLATION; missing
 * tests as RED_NOT_RED.
 *
 * @example
 * ```ts
 * const result = await testFilesGate(wt.path, wt.baseCommit, ['test/**'], ['test/parser.test.ts']);
 * ```
 */
export async function testFilesGate(
  worktree: string,
  baseRef: string,
  testGlobs: readonly string[],
  plannedTestFiles: readonly string[] = [],
): Promise<GateResult<'SCOPE_VIOLATION' | 'RED_NOT_RED'>> {
  const changes = await changedPaths(worktree, baseRef);
  const scope = await scopeViolations(worktree, changes, testGlobs);
  if (scope.length > 0) return { ok: false, reason: 'SCOPE_VIOLATION', violations: scope };

  const missing: Violation[] = [];
  for (const file of plannedTestFiles) {
    if (checkGlob(file) !== null || !(await isRegularFile(path.join(worktree, file)))) {
      missing.push({ path: file, why: 'missing-planned-test' });
    }
  }
  const patterns = testGlobs.map((glob) => globToRegExp(glob));
  const written = changes.some(
    (c) => c.status !== 'deleted' && patterns.some((p) => p.test(c.path)),
  );
  if (!written) missing.push({ path: testGlobs.join(', '), why: 'no-test-changes' });
  return missing.length === 0
    ? { ok: true }
    : { ok: false, reason: 'RED_NOT_RED', violations: missing };
}

async function isRegularFile(file: string): Promise<boolean> {
  const info = await lstat(file).catch(() => null);
  return info?.isFile() ?? false;
}
