/**
 * `repo add` flags that become the repository's factory settings (src/config/repo-settings.ts):
 * `--agent role=provider[:model]`, `--script PATH` (scripted agents), `--limit key=value` and
 * `--sandbox bwrap|none`.
 */
import path from 'node:path';
import {
  agentFor,
  repoSettingsSchema,
  vendorOf,
  type RepoSettings,
} from '../config/repo-settings.js';
import { SANDBOX_MODES } from '../agents/sandbox/spec.js';
import { BadInputError } from '../errors.js';

const ROLES = ['lead', 'generator', 'validator'] as const;
const PROVIDERS = ['claude', 'codex', 'scripted'] as const;

export interface SettingsFlags {
  readonly agent?: readonly string[];
  readonly script?: string;
  readonly limit?: readonly string[];
  /** `bwrap` (default) or `none`. */
  readonly sandbox?: string;
}

/** Parse and validate the flags into settings; bad values are BadInputError (exit 2). */
export function settingsFromFlags(flags: SettingsFlags, cwd: string): RepoSettings {
  const agents: Record<string, { provider: string; model?: string }> = {};
  for (const raw of flags.agent ?? []) {
    const match = /^([a-z]+)=([a-z]+)(?::(.+))?$/.exec(raw);
    if (
      !match ||
      !(ROLES as readonly string[]).includes(match[1]!) ||
      !(PROVIDERS as readonly string[]).includes(match[2]!)
    ) {
      throw new BadInputError(
        `--agent must be role=provider[:model] with role ${ROLES.join('|')} and provider ${PROVIDERS.join('|')}, got "${raw}"`,
      );
    }
    agents[match[1]!] = { provider: match[2]!, ...(match[3] ? { model: match[3] } : {}) };
  }
  const limits: Record<string, number | null> = {};
  for (const raw of flags.limit ?? []) {
    const match = /^([A-Za-z]+)=(.+)$/.exec(raw);
    const value = match ? (match[2] === 'none' ? null : Number(match[2])) : NaN;
    if (!match || (value !== null && !Number.isFinite(value)))
      throw new BadInputError(`--limit must be key=number (or key=none), got "${raw}"`);
    limits[match[1]!] = value;
  }
  const sandbox = flags.sandbox;
  if (sandbox !== undefined && !(SANDBOX_MODES as readonly string[]).includes(sandbox))
    throw new BadInputError(`--sandbox must be ${SANDBOX_MODES.join(' or ')}, got "${sandbox}"`);
  const parsed = repoSettingsSchema.safeParse({
    agents,
    ...(sandbox ? { sandbox } : {}),
    ...(flags.script ? { script: path.resolve(cwd, flags.script) } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BadInputError(
      `invalid repo settings at ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  if (
    Object.values(parsed.data.agents).some((a) => a?.provider === 'scripted') &&
    !parsed.data.script
  ) {
    throw new BadInputError(
      'scripted agents need --script <file> (see src/agents/scripted/script.ts for the format)',
    );
  }
  return parsed.data;
}

/** A warning when the Validator would use the Generator's vendor: two models are differently wrong. */
export function sameVendorWarning(settings: RepoSettings): string | null {
  const generator = vendorOf(agentFor(settings, 'generator'));
  const validator = vendorOf(agentFor(settings, 'validator'));
  if (generator !== validator || generator === 'none') return null;
  return `warning: the validator uses the same vendor as the generator (${generator}); a different vendor catches more (e.g. --agent validator=codex)`;
}
