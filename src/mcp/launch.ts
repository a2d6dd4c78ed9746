/**
 * How a client starts `loopwright mcp`: the absolute node binary and the installed
 * bin/loopwright.js (so the entry works when pasted, whatever the client's PATH), plus the
 * environment it needs — by reference to the client's own variables, never a copied value: the
 * factory's home, and the database URL variable only when one is in use.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../config/package-root.js';
import { resolveHome } from '../config/home.js';
import { BadInputError } from '../errors.js';

/** The variables that choose the database; forwarded by name when set at install time. */
export const DATABASE_VARIABLES = ['LOOPWRIGHT_DATABASE_URL', 'DATABASE_URL'] as const;

export interface LaunchSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** LOOPWRIGHT_HOME at install time (a path, not a secret). */
  readonly home: string;
  /** Names of variables the server must inherit from the client's environment. */
  readonly forward: readonly string[];
}

/** The launch spec for this installation; refuses when the compiled CLI is missing. */
export function launchSpec(env: NodeJS.ProcessEnv, execPath = process.execPath): LaunchSpec {
  const root = packageRoot();
  const bin = path.join(root, 'bin', 'loopwright.js');
  if (!existsSync(path.join(root, 'dist', 'src', 'cli', 'main.js')))
    throw new BadInputError(`loopwright is not built in ${root}: run \`npm run build\` first`);
  return {
    command: execPath,
    args: [bin, 'mcp'],
    home: resolveHome(env),
    forward: DATABASE_VARIABLES.filter((name) => Boolean(env[name])),
  };
}

/** The server entry as Claude Code stores it (`claude mcp add` / `.mcp.json` shape). */
export function claudeEntry(spec: LaunchSpec) {
  const env: Record<string, string> = { LOOPWRIGHT_HOME: `\${LOOPWRIGHT_HOME:-${spec.home}}` };
  // No default: a client started without the variable fails loudly instead of using another
  // database.
  for (const name of spec.forward) env[name] = `\${${name}}`;
  return { type: 'stdio', command: spec.command, args: [...spec.args], env };
}

/** The server entry as Codex stores it under `[mcp_servers.<name>]`. */
export function codexEntry(spec: LaunchSpec) {
  return {
    command: spec.command,
    args: [...spec.args],
    env: { LOOPWRIGHT_HOME: spec.home },
    ...(spec.forward.length ? { env_vars: [...spec.forward] } : {}),
  };
}
