/**
 * The linter's bug-catching rules are on: a planted floating promise (and an `any` leak) must fail
 * `biome lint` with this repository's configuration. Probes are written to `.lint-probe/`, which
 * git (and so `npm run lint`) ignores, and removed afterwards.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIOME = path.join(ROOT, 'node_modules', '.bin', 'biome');
const PROBES = path.join(ROOT, '.lint-probe');
const run = promisify(execFile);

async function lint(source: string): Promise<{ code: number; output: string }> {
  await mkdir(PROBES, { recursive: true });
  const file = path.join(
    PROBES,
    `planted-${process.pid}-${Math.random().toString(36).slice(2)}.ts`,
  );
  await writeFile(file, source);
  try {
    const args = ['lint', '--vcs-use-ignore-file=false', path.relative(ROOT, file)];
    const { stdout, stderr } = await run(BIOME, args, { cwd: ROOT });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  } finally {
    await rm(file, { force: true });
  }
}

afterAll(() => rm(PROBES, { recursive: true, force: true }));

describe('lint rules', () => {
  it('fails on a floating promise and passes once it is awaited', async () => {
    const floating = await lint(
      'async function work(): Promise<number> {\n  return 1;\n}\nexport function caller(): ' +
        'void {\n  work();\n}\n',
    );
    expect(floating.code).not.toBe(0);
    expect(floating.output).toContain('noFloatingPromises');
    const handled = await lint(
      'async function work(): Promise<number> {\n  return 1;\n}\nexport async function ' +
        'caller(): Promise<void> {\n  await work();\n}\n',
    );
    expect(handled.code).toBe(0);
  });

  it('fails on an explicit any', async () => {
    const leaky = await lint('export function id(x: any) {\n  return x;\n}\n');
    expect(leaky.code).not.toBe(0);
    expect(leaky.output).toContain('noExplicitAny');
  });
});
