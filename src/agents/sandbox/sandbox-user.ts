/**
 * The unprivileged account agents and gates run as when loopwright runs as root: a real uid
 * switch inside the sandbox (never a user namespace that maps the agent to outside root).
 */
import { createOsUser, isRoot, lookupOsUser } from '../../db/embedded/os-user.js';
import { type SandboxUser, SandboxUnavailableError } from './spec.js';

export type { SandboxUser } from './spec.js';

/** Name of the sandbox account; distinct from the database's `postgres` account on purpose. */
export const SANDBOX_USER_NAME = 'loopwright-agent';

/**
 * `undefined` when not root (processes keep our own uid); otherwise the sandbox account, created
 * when missing. A uid or gid of 0 is refused: that would be no switch at all.
 *
 * @throws SandboxUnavailableError when the account can neither be found nor created.
 */
export async function resolveSandboxUser(): Promise<SandboxUser | undefined> {
  if (!isRoot()) return undefined;
  let user = await lookupOsUser(SANDBOX_USER_NAME);
  let attempts = '';
  if (!user) {
    attempts = await createOsUser(SANDBOX_USER_NAME);
    user = await lookupOsUser(SANDBOX_USER_NAME); // a concurrent creator may have won: look again
  }
  if (!user)
    throw new SandboxUnavailableError(
      `running as root, sandboxed processes need the OS user "${SANDBOX_USER_NAME}" and ` +
        `creating it failed:\n${attempts}`,
    );
  if (user.uid === 0 || user.gid === 0)
    throw new SandboxUnavailableError(
      `the OS user "${SANDBOX_USER_NAME}" has uid ${user.uid} / gid ${user.gid}; it ` +
        `must not be root`,
    );
  return user;
}
