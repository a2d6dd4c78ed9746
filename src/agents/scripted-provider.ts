/**
 * The `scripted` provider: the `claude` adapter pointed at loopwright's own scripted agent
 * (src/agents/scripted/agent.ts), so the demo and tests exercise production's parsing, status and
 * process handling. The agent runs under this very Node: the compiled `agent.js` from dist/, or
 * `agent.ts` through the tsx loader when loopwright itself runs from source (vitest, tsx).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClaudeProvider } from './claude-provider.js';
import type { AgentProvider } from './provider.js';
import type { ProviderSettings } from './run-agent.js';

export interface ScriptedProviderConfig extends ProviderSettings {
  /** Path of the script file; a run's `LOOPWRIGHT_SCRIPT` task variable overrides it. */
  readonly script?: string;
}

export function createScriptedProvider(config: ScriptedProviderConfig = {}): AgentProvider {
  return createClaudeProvider({
    ...config,
    name: 'scripted',
    vendor: 'none',
    command: scriptedAgentCommand(),
    ...(config.script ? { taskEnv: { LOOPWRIGHT_SCRIPT: config.script } } : {}),
  });
}

/**
 * The argv prefix that starts the scripted agent.
 *
 * @example
 * scriptedAgentCommand(); // from dist: [node, '/…/dist/src/agents/scripted/agent.js']
 *                         // from src:  [node, '--import', 'file:///…/tsx/dist/loader.mjs',
 *                         //             '/…/src/agents/scripted/agent.ts']
 */
export function scriptedAgentCommand(): string[] {
  const compiled = fileURLToPath(new URL('./scripted/agent.js', import.meta.url));
  if (existsSync(compiled)) return [process.execPath, compiled];
  const source = fileURLToPath(new URL('./scripted/agent.ts', import.meta.url));
  // Resolved to a URL here: `--import tsx` would be resolved from the worktree, which has no tsx.
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return [process.execPath, '--import', loader, source];
}
