import { describe, expect, it } from 'vitest';
import { canonicalMode, parseCommit, parseTree, trailerValue } from './git-objects.js';

const SHA = 'ab'.repeat(20);

function entry(mode: string, name: string, sha = SHA): Buffer {
  return Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(sha, 'hex')]);
}

describe('canonicalMode', () => {
  it('reads modes as git does: regular files by the execute bit, odd types as gitlinks', () => {
    expect(canonicalMode('100644')).toBe('100644');
    expect(canonicalMode('100664')).toBe('100644');
    expect(canonicalMode('100775')).toBe('100755');
    expect(canonicalMode('40000')).toBe('040000');
    expect(canonicalMode('120000')).toBe('120000');
    expect(canonicalMode('160000')).toBe('160000');
    expect(canonicalMode('0')).toBe('160000');
    expect(canonicalMode('1008')).toBeNull();
    expect(canonicalMode('')).toBeNull();
  });
});

describe('parseTree', () => {
  it('parses binary entries, names as UTF-8', () => {
    const tree = Buffer.concat([
      entry('100644', 'a b'),
      entry('40000', 'dir'),
      entry('100755', 'ü'),
    ]);
    expect(parseTree(tree, 20)).toEqual([
      { mode: '100644', name: 'a b', sha: SHA },
      { mode: '040000', name: 'dir', sha: SHA },
      { mode: '100755', name: 'ü', sha: SHA },
    ]);
  });

  it('refuses truncated entries, bad modes and empty names', () => {
    expect(() => parseTree(entry('100644', 'x').subarray(0, 15), 20)).toThrow(/truncated/);
    expect(() => parseTree(entry('10x644', 'x'), 20)).toThrow(/mode/);
    expect(() => parseTree(entry('100644', ''), 20)).toThrow(/empty filename/);
    expect(() => parseTree(Buffer.from('100644 no-nul'), 20)).toThrow(/truncated/);
  });
});

describe('parseCommit', () => {
  it('reads tree, parents in order and the message', () => {
    const p2 = 'cd'.repeat(20);
    const text =
      `tree ${SHA}\nparent ${p2}\nparent ${SHA}\nauthor a <a> 1 +0000\n` +
      `committer c <c> 1 +0000\ngpgsig -----BEGIN\n parent ${SHA}\n\nsubject\n\nbody\n`;
    expect(parseCommit(SHA, Buffer.from(text))).toEqual({
      sha: SHA,
      tree: SHA,
      parents: [p2, SHA],
      message: 'subject\n\nbody\n',
    });
  });

  it('refuses a commit without a valid tree line', () => {
    expect(() => parseCommit(SHA, Buffer.from('author x\n\nmsg\n'))).toThrow(/malformed/);
  });
});

describe('trailerValue', () => {
  it('finds a trailer in the last paragraph, keys compared case-insensitively', () => {
    const msg = 'LW-1: build\n\nLoopwright-Run: r1\nLoopwright-Ticket: LW-1\n';
    expect(trailerValue(msg, 'Loopwright-Run')).toBe('r1');
    expect(trailerValue(msg, 'loopwright-run')).toBe('r1');
    expect(trailerValue(msg, 'Loopwright-Phase')).toBeNull();
  });

  it('ignores a trailer-like line in the subject, the body, or a paragraph of prose', () => {
    expect(trailerValue('Loopwright-Run: r1\n', 'Loopwright-Run')).toBeNull();
    expect(trailerValue('s\n\nLoopwright-Run: r1\n\nprose\n', 'Loopwright-Run')).toBeNull();
    expect(trailerValue('s\n\nsee this\nLoopwright-Run: r1\n', 'Loopwright-Run')).toBeNull();
  });
});
