/**
 * The `command` provider: any program. It gets the task through the environment
 * (`LOOPWRIGHT_TASK_FILE` and the other `LOOPWRIGHT_*` variables), the prompt as
 * `LOOPWRIGHT_PROMPT`, and succeeds by exiting 0. No cost or token accounting.
 */
import { BadInputError } from '../errors.js';
import type { AgentInvocation, AgentOutcome, AgentProvider, AgentVendor } from './provider.js';
import { runAgent, type ProviderSettings } from './run-agent.js';

export interface CommandProviderConfig extends ProviderSettings {
  /** The program and its arguments; `options.command` on a run overrides it. */
  readonly command?: readonly string[];
  /** Whose API key the program may see. Default `none`. */
  readonly vendor?: AgentVendor;
}

export function createCommandProvider(config: CommandProviderConfig = {}): AgentProvider {
  const vendor = config.vendor ?? 'none';
  return {
    name: 'command',
    vendor,
    async run(inv: AgentInvocation): Promise<AgentOutcome> {
      const argv = inv.options?.command ?? config.command;
      if (!argv || argv.length === 0)
        throw new BadInputError(
          'the command provider needs a command (config.command or options.command)',
        );
      const taskEnv = {
        LOOPWRIGHT_PROMPT: inv.prompt,
        ...(inv.model ? { LOOPWRIGHT_MODEL: inv.model } : {}),
      };
      return runAgent(inv, {
        argv: [...argv, ...(config.extraArgs ?? [])],
        vendor,
        parser: null,
        settings: config,
        taskEnv,
      });
    },
  };
}
