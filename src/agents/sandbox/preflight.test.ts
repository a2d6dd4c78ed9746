import { describe, expect, it } from 'vitest';
import { assertSandboxReady } from './preflight.js';
import type { SandboxStatus } from './spec.js';

const missing = async (): Promise<SandboxStatus> => ({
  available: false,
  reason: 'bwrap is not installed',
  fix: 'install bubblewrap (apt-get install -y bubblewrap), or set "sandbox": "none" for the repo',
});
const working = async (): Promise<SandboxStatus> => ({ available: true, bwrap: '/usr/bin/bwrap' });

describe('assertSandboxReady', () => {
  it('refuses in one line naming each repo needing bwrap (default or not), the fix', async () => {
    const repos = [
      { name: 'app', settings: {} },
      { name: 'web', settings: { sandbox: 'bwrap' } },
      { name: 'legacy', settings: { sandbox: 'none' } },
      { name: 'broken', settings: { sandbox: 'sometimes' } },
    ];
    const error = await assertSandboxReady(repos, missing).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
    const message = (error as Error).message;
    expect(message).toContain('repo app, web, broken');
    expect(message).not.toContain('legacy');
    expect(message).toContain('apt-get install -y bubblewrap');
    expect(message).not.toContain('\n');
  });

  it('starts when bwrap works, or when every repo chose none explicitly', async () => {
    await expect(
      assertSandboxReady([{ name: 'app', settings: {} }], working),
    ).resolves.toBeUndefined();
    await expect(
      assertSandboxReady([{ name: 'legacy', settings: { sandbox: 'none' } }], missing),
    ).resolves.toBeUndefined();
  });
});
