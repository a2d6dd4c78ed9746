/**
 * Where the agent CLIs live. An explicit environment variable wins; then the copy installed with
 * loopwright (the devDependencies `@anthropic-ai/claude-code` and `@openai/codex`); then `PATH`.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/**
 * The argv prefix that starts Claude Code: `LOOPWRIGHT_CLAUDE_BIN`, else the installed native
 * binary, else the package's own fallback launcher (when npm skipped its postinstall, which
 * copies the native binary over a small stub), else `claude` on PATH.
 */
export function claudeCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.LOOPWRIGHT_CLAUDE_BIN) return [env.LOOPWRIGHT_CLAUDE_BIN];
  const dir = packageDir('@anthropic-ai/claude-code');
  if (dir) {
    const native = path.join(dir, 'bin', 'claude.exe');
    // The same stub test the package's install.cjs uses.
    if (existsSync(native) && statSync(native).size >= 4096) return [native];
    const wrapper = path.join(dir, 'cli-wrapper.cjs');
    if (existsSync(wrapper)) return [process.execPath, wrapper];
  }
  return ['claude'];
}

/**
 * The argv prefix that starts Codex: `LOOPWRIGHT_CODEX_BIN`, else the installed package, else
 * `codex`.
 */
export function codexCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.LOOPWRIGHT_CODEX_BIN) return [env.LOOPWRIGHT_CODEX_BIN];
  const dir = packageDir('@openai/codex');
  const launcher = dir && path.join(dir, 'bin', 'codex.js');
  // Through this Node rather than the shebang, so a scrubbed PATH need not contain `node`.
  return launcher && existsSync(launcher) ? [process.execPath, launcher] : ['codex'];
}

function packageDir(name: string): string | undefined {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}
