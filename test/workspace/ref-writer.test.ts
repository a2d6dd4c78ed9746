import { afterEach, describe, expect, it } from 'vitest';
import { closeRefWriters, moveRefs, refWriterPids } from '../../src/workspace/ref-writer.js';
import { commit, git, put, sampleSetup } from './helpers.js';

afterEach(closeRefWriters);

async function repoWithTwoCommits() {
  const { repo } = await sampleSetup();
  const gitDir = `${repo.path}/.git`;
  const first = await git(repo.path, ['rev-parse', 'HEAD']);
  await put(repo.path, 'next.txt', 'next\n');
  const second = await commit(repo.path, 'second');
  return { dir: repo.path, gitDir, first, second };
}

const tipOf = (dir: string, ref: string) =>
  git(dir, ['rev-parse', '--verify', '-q', ref]).catch(() => null);

describe('moveRefs', () => {
  it('creates, moves and deletes refs only from the value each names, in one process', async () => {
    const { dir, gitDir, first, second } = await repoWithTwoCommits();
    const ref = 'refs/heads/loopwright/T-1';
    expect(await moveRefs(gitDir, [{ ref, next: first, expected: null }])).toEqual({ ok: true });
    const pid = refWriterPids()[0];
    expect(pid).toBeGreaterThan(0);
    // Create-only: the ref exists now, so a second create is refused and changes nothing.
    const again = await moveRefs(gitDir, [{ ref, next: second, expected: null }]);
    expect(again.ok).toBe(false);
    expect(await tipOf(dir, ref)).toBe(first);
    // A refused move ended that process; the next move gets a new one and works.
    expect(await moveRefs(gitDir, [{ ref, next: second, expected: first }])).toEqual({ ok: true });
    expect(await tipOf(dir, ref)).toBe(second);
    const stale = await moveRefs(gitDir, [{ ref, next: first, expected: first }]);
    expect(stale).toMatchObject({ ok: false, why: expect.stringContaining('expected') });
    expect(await tipOf(dir, ref)).toBe(second);
    expect(await moveRefs(gitDir, [{ ref, next: null, expected: first }])).toMatchObject({
      ok: false,
    });
    expect(await moveRefs(gitDir, [{ ref, next: null, expected: second }])).toEqual({ ok: true });
    expect(await tipOf(dir, ref)).toBeNull();
    // Many moves, one process.
    await moveRefs(gitDir, [{ ref, next: first, expected: null }]);
    const steady = refWriterPids();
    for (let i = 0; i < 5; i++) {
      const [from, to] = i % 2 === 0 ? [first, second] : [second, first];
      expect(await moveRefs(gitDir, [{ ref, next: to, expected: from }])).toEqual({ ok: true });
    }
    expect(refWriterPids()).toEqual(steady);
  });

  it('moves all refs of a transaction or none; sees moves by other processes', async () => {
    const { dir, gitDir, first, second } = await repoWithTwoCommits();
    const a = 'refs/heads/loopwright/A';
    const b = 'refs/heads/loopwright/B';
    await moveRefs(gitDir, [{ ref: a, next: first, expected: null }]);
    await git(dir, ['update-ref', b, second]);
    const half = await moveRefs(gitDir, [
      { ref: a, next: second, expected: first },
      { ref: b, next: first, expected: first },
    ]);
    expect(half.ok).toBe(false);
    expect([await tipOf(dir, a), await tipOf(dir, b)]).toEqual([first, second]);
    const both = await moveRefs(gitDir, [
      { ref: a, next: second, expected: first },
      { ref: b, next: first, expected: second },
    ]);
    expect(both).toEqual({ ok: true });
    expect([await tipOf(dir, a), await tipOf(dir, b)]).toEqual([second, first]);
  });

  it('refuses a move that would smuggle a second command onto the line', async () => {
    const { dir, gitDir, first } = await repoWithTwoCommits();
    const sneaky = `refs/heads/x ${first}\nupdate refs/heads/main`;
    expect((await moveRefs(gitDir, [{ ref: sneaky, next: first, expected: null }])).ok).toBe(false);
    expect(await tipOf(dir, 'refs/heads/x')).toBeNull();
  });
});
