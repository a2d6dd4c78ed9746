/**
 * A repository's factory settings (stored in repositories.settings, set by `repo add`): which
 * provider and model each role uses, agent timeouts, and the ticket budgets. Validated on read.
 */
import { z } from 'zod';
import type { Role } from '../../machines/ticket.js';
import type { Repository } from '../db/repositories.js';
import { SANDBOX_MODES } from '../agents/sandbox/spec.js';
import { BadInputError } from '../errors.js';
import { githubSettingsSchema, linearSettingsSchema } from '../integrations/settings.js';

/**
 * Names that look like credentials. Settings live in the database, where secrets never go: a key
 * belongs in the environment of `loopwright run`, which passes each agent its own vendor's key.
 */
export const CREDENTIAL_NAME =
  /(?:_KEY|_TOKEN|KEY$|TOKEN$)|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE/i;

/** Provider variables (e.g. OPENAI_BASE_URL): environment names, never credentials. */
export const agentEnvSchema = z.record(
  z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name ([A-Za-z_][A-Za-z0-9_]*)')
    .refine((name) => !CREDENTIAL_NAME.test(name), {
      message:
        'looks like a credential; secrets are never stored in settings: set it in the ' +
        'environment of `loopwright run` instead',
    }),
  z.string().max(4000),
);

/** Days a final ticket's files are kept by default (`retentionDays`). */
export const DEFAULT_RETENTION_DAYS = 14;

export const agentChoiceSchema = z.strictObject({
  provider: z.enum(['claude', 'codex', 'command', 'scripted']),
  model: z.string().optional(),
  /** command provider: argv of the program. */
  command: z.array(z.string()).optional(),
  /** command provider: whose API key it may see. */
  vendor: z.enum(['anthropic', 'openai', 'none']).optional(),
  /**
   * claude: a --permission-mode (e.g. bypassPermissions so a headless Generator can run tests);
   * codex: a sandbox mode.
   */
  permissionMode: z.string().optional(),
  /** Extra CLI arguments, e.g. ["--allowedTools", "Bash,Edit,Write"] for claude. */
  extraArgs: z.array(z.string()).optional(),
  maxTurns: z.number().int().positive().optional(),
  maxBudgetUsd: z.number().positive().optional(),
  /**
   * Provider variables for this role's agent (e.g. OPENAI_BASE_URL), filtered by the vendor's
   * allow-list.
   */
  env: agentEnvSchema.optional(),
});
export type AgentChoice = z.infer<typeof agentChoiceSchema>;

export const repoSettingsSchema = z.strictObject({
  agents: z
    .object({ lead: agentChoiceSchema, generator: agentChoiceSchema, validator: agentChoiceSchema })
    .partial()
    .default({}),
  /** scripted provider: the script every role reads. */
  script: z.string().optional(),
  agentTimeoutSeconds: z
    .number()
    .int()
    .positive()
    .default(30 * 60),
  /**
   * An agent with no progress (only silence or reconnect messages) this long is stopped:
   * AGENT_STALLED.
   */
  agentStallSeconds: z.number().int().min(5).max(86_400).default(120),
  gateTimeoutSeconds: z
    .number()
    .int()
    .positive()
    .default(10 * 60),
  maxOutputBytes: z
    .number()
    .int()
    .positive()
    .default(20 * 1024 * 1024),
  /**
   * Agents and gate commands run under bubblewrap (`bwrap`, the default); `none` runs them as
   * plain processes with the orchestrator's own access, and must be chosen explicitly.
   */
  sandbox: z.enum(SANDBOX_MODES).default('bwrap'),
  /** How long a final ticket's worktree is kept before removal. */
  worktreeRetentionSeconds: z.number().int().nonnegative().default(0),
  /**
   * `loopwright gc` (and `run`, hourly) prunes what a final ticket left on disk — transcripts,
   * workspace, merged ticket branch — once it has been final this many days.
   */
  retentionDays: z.number().int().min(0).max(36_500).default(DEFAULT_RETENTION_DAYS),
  /**
   * Ticket budgets (see TicketLimits in machines/ticket.ts); unknown keys are refused, not ignored.
   */
  limits: z
    .strictObject({
      maxPlanRounds: z.number().int().min(1).max(50),
      maxAttempts: z.number().int().min(1),
      maxRedAttempts: z.number().int().min(1).max(50),
      maxContractRetries: z.number().int().min(0).max(20),
      maxCostUsd: z.number().positive().nullable(),
      wallClockSeconds: z.number().int().positive().nullable(),
    })
    .partial()
    .optional(),
  /** Ship through a GitHub pull request instead of a local merge (src/integrations/github). */
  github: githubSettingsSchema.optional(),
  /** Linear issues of this team (or labels) become this repository's tickets. */
  linear: linearSettingsSchema.optional(),
});
export type RepoSettings = z.infer<typeof repoSettingsSchema>;

/**
 * By default the Validator's vendor differs from the Generator's: two models are differently wrong.
 */
export const DEFAULT_AGENTS: Record<Role, AgentChoice> = {
  lead: { provider: 'claude' },
  generator: { provider: 'claude' },
  validator: { provider: 'codex' },
};

export function repoSettings(repo: Pick<Repository, 'name' | 'settings'>): RepoSettings {
  const parsed = repoSettingsSchema.safeParse(repo.settings ?? {});
  if (!parsed.success)
    throw new BadInputError(
      `repo ${repo.name} has invalid settings: ${parsed.error.issues[0]?.message}`,
    );
  return parsed.data;
}

export function agentFor(settings: RepoSettings, role: Role): AgentChoice {
  return settings.agents[role] ?? DEFAULT_AGENTS[role];
}

/** The vendor a choice talks to, for the "validator differs from generator" rule. */
export function vendorOf(choice: AgentChoice): string {
  if (choice.provider === 'claude' || choice.provider === 'scripted') return 'anthropic';
  if (choice.provider === 'codex') return 'openai';
  return choice.vendor ?? 'none';
}
