/**
 * The sandbox around every agent and gate process (bubblewrap): see spec.ts for the contract,
 * launch.ts for how a run becomes a bwrap command, detect.ts for whether it works here.
 */
export { BWRAP_FIX, detectSandbox, type SandboxStatus } from './detect.js';
export { grantToSandbox } from './grant.js';
export { assertSandboxReady, passwordlessDatabaseWarning } from './preflight.js';
export { prepareSandboxedLaunch, type SandboxedLaunch, type SandboxedCommand } from './launch.js';
export { keepSpareScratch, settleScratchRemovals } from './scratch.js';
export { SANDBOX_USER_NAME, type SandboxUser } from './sandbox-user.js';
export { SANDBOX_HOME, SANDBOX_TMP } from './bwrap-argv.js';
export {
  parseSandboxSpec,
  SANDBOX_MODES,
  SandboxSpecError,
  SandboxUnavailableError,
  wantsSandbox,
  type SandboxMode,
  type SandboxSpec,
} from './spec.js';
