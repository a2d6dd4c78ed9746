/**
 * The provider registry: {@link createProvider} builds one of the implementations by name. Kept
 * apart from the contract (./provider.ts) so implementations never import the registry.
 */
import { BadInputError } from '../errors.js';
import { createClaudeProvider } from './claude-provider.js';
import { createCodexProvider } from './codex-provider.js';
import { createCommandProvider } from './command-provider.js';
import type { AgentProvider, AgentVendor } from './provider.js';
import { createScriptedProvider } from './scripted-provider.js';

export type ProviderName = 'claude' | 'codex' | 'command' | 'scripted';

/**
 * Settings for {@link createProvider}; each field applies where it makes sense.
 *
 * @example
 * createProvider('codex', { extraArgs: ['-c', 'model_provider=fake'], env: { CODEX_HOME:
 * '/srv/codex' } });
 * createProvider('command', { command: ['./my-agent.sh'], vendor: 'anthropic' });
 * createProvider('scripted', { script: 'demo/script.json' });
 */
export interface ProviderConfig {
  /** Argv prefix replacing the provider's program (claude, codex, command). */
  readonly command?: readonly string[];
  /** command only: whose API key the program may see. Default `none`. */
  readonly vendor?: AgentVendor;
  /** Operator environment for the child, still filtered by the vendor's allow-list. */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra CLI arguments before the prompt. */
  readonly extraArgs?: readonly string[];
  /** Model when a run names none (claude, codex). */
  readonly defaultModel?: string;
  /** scripted only: the script file (a run's `LOOPWRIGHT_SCRIPT` overrides it). */
  readonly script?: string;
  /** Grace between SIGTERM and SIGKILL of a group. */
  readonly killGraceMs?: number;
}

/** Build a provider by name. */
export function createProvider(name: ProviderName, config: ProviderConfig = {}): AgentProvider {
  switch (name) {
    case 'claude':
      return createClaudeProvider(omitVendor(config));
    case 'codex':
      return createCodexProvider(omitVendor(config));
    case 'command':
      return createCommandProvider(config);
    case 'scripted':
      return createScriptedProvider(omitVendor(config));
    default:
      throw new BadInputError(
        `unknown agent provider: ${String(name)} (expected claude, codex, command or scripted)`,
      );
  }
}

/** The vendor of claude, codex and scripted is fixed; only `command` lets config choose. */
function omitVendor(config: ProviderConfig): Omit<ProviderConfig, 'vendor'> {
  const { vendor: _vendor, ...rest } = config;
  return rest;
}
