import { describe, expect, it } from 'vitest';
import { checkGlob, matchesGlob } from '../../src/workspace/glob.js';

describe('glob dialect', () => {
  it('lets * and ? match within one segment only', () => {
    expect(matchesGlob('src/a.ts', 'src/*.ts')).toBe(true);
    expect(matchesGlob('src/x/a.ts', 'src/*.ts')).toBe(false);
    expect(matchesGlob('src/ab.ts', 'src/a?.ts')).toBe(true);
    expect(matchesGlob('src/a/.ts', 'src/a?.ts')).toBe(false);
  });

  it('lets ** match zero or more whole segments', () => {
    expect(matchesGlob('src/a.ts', 'src/**/*.ts')).toBe(true);
    expect(matchesGlob('src/x/y/z/a.ts', 'src/**/*.ts')).toBe(true);
    expect(matchesGlob('src/x/a.js', 'src/**/*.ts')).toBe(false);
    expect(matchesGlob('lib/src/a.ts', 'src/**/*.ts')).toBe(false);
    expect(matchesGlob('a/b/c.test.ts', '**/*.test.ts')).toBe(true);
    expect(matchesGlob('c.test.ts', '**/*.test.ts')).toBe(true);
  });

  it('requires at least one segment under a trailing ** or /', () => {
    expect(matchesGlob('src', 'src/**')).toBe(false);
    expect(matchesGlob('src/deep/file', 'src/**')).toBe(true);
    expect(matchesGlob('src/deep/file', 'src/')).toBe(true);
    expect(matchesGlob('srcfoo/file', 'src/')).toBe(false);
  });

  it('treats dot-files as ordinary files', () => {
    expect(matchesGlob('src/.env', 'src/**')).toBe(true);
    expect(matchesGlob('.github/workflows/ci.yml', '**/*.yml')).toBe(true);
  });

  it('treats regex and bracket characters literally', () => {
    expect(matchesGlob('app/[id]/page.tsx', 'app/[id]/page.tsx')).toBe(true);
    expect(matchesGlob('app/i/page.tsx', 'app/[id]/page.tsx')).toBe(false);
    expect(matchesGlob('aab.ts', 'a+b.ts')).toBe(false);
    expect(matchesGlob('a+b.ts', 'a+b.ts')).toBe(true);
    expect(matchesGlob('axts', 'a.ts')).toBe(false);
  });

  it('accepts a leading ./', () => {
    expect(matchesGlob('src/a.ts', './src/*.ts')).toBe(true);
  });

  it('refuses absolute, parent-directory, empty and backslash globs', () => {
    expect(checkGlob('/etc/passwd')).toMatch(/absolute/);
    expect(checkGlob('C:/x')).toMatch(/absolute/);
    expect(checkGlob('../escape.txt')).toMatch(/\.\./);
    expect(checkGlob('src/../../x')).toMatch(/\.\./);
    expect(checkGlob('src//a')).toMatch(/segment/);
    expect(checkGlob('')).toMatch(/empty/);
    expect(checkGlob('src\\a')).toMatch(/backslash/);
    expect(checkGlob('src/**/*.ts')).toBeNull();
    expect(() => matchesGlob('x', '../x')).toThrow(/invalid glob/);
  });
});
