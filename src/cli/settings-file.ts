/**
 * `--settings-file FILE` for `repo add` and `repo set`: a JSON or YAML document holding any of the
 * repository's columns (`testCmd`, `liveCmd`, `checkCmds`, `baseBranch`, `concurrency`, `mode`)
 * beside its factory settings (`agents`, `limits`, `agentTimeoutSeconds`, ...), merged over what
 * is stored. Unknown keys are refused by the settings schema, never ignored.
 *
 * @example
 * ```yaml
 * testCmd: npm test
 * mode: copilot
 * agents:
 *   generator: { provider: claude, model: opus, permissionMode: bypassPermissions }
 *   validator:
 *     { provider: codex, model: gpt-5, env: { OPENAI_BASE_URL: "http://127.0.0.1:8080/v1" } }
 *   lead: { provider: command, command: ["./bin/lead-agent"] }
 * limits: { maxAttempts: 5 }
 * ```
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BadInputError } from '../errors.js';

/** The repository columns an edit may change (snake_case: the table's names). */
export interface RepoColumns {
  base_branch?: string;
  test_cmd?: string | null;
  live_cmd?: string | null;
  check_cmds?: string[];
  concurrency?: number;
  mode?: 'copilot' | 'dark';
}

const MAX_BYTES = 256 * 1024;

const columnsSchema = z.object({
  baseBranch: z.string().min(1).optional(),
  testCmd: z.string().min(1).nullable().optional(),
  liveCmd: z.string().min(1).nullable().optional(),
  checkCmds: z.array(z.string().min(1)).optional(),
  concurrency: z.number().int().min(1).max(64).optional(),
  mode: z.enum(['copilot', 'dark']).optional(),
});
const COLUMN_KEYS = Object.keys(columnsSchema.shape);

export interface SettingsFile {
  readonly columns: RepoColumns;
  readonly settings: Record<string, unknown>;
}

/** Read and split a settings file; any problem is one BadInputError line naming the file. */
export async function readSettingsFile(file: string): Promise<SettingsFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BadInputError(
      `cannot read --settings-file ${file}: ` +
        (code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')),
    );
  }
  if (Buffer.byteLength(text) > MAX_BYTES)
    throw new BadInputError(`--settings-file ${file} is larger than ${MAX_BYTES} bytes`);
  const document = parseDocument(file, text);
  const columnPart: Record<string, unknown> = {};
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(document))
    (COLUMN_KEYS.includes(key) ? columnPart : settings)[key] = value;
  const columns = columnsSchema.safeParse(columnPart);
  if (!columns.success) {
    const issue = columns.error.issues[0]!;
    throw new BadInputError(
      `--settings-file ${file}: invalid setting ${issue.path.join('.')}: ${issue.message}`,
    );
  }
  const c = columns.data;
  return {
    columns: {
      ...(c.baseBranch !== undefined ? { base_branch: c.baseBranch } : {}),
      ...(c.testCmd !== undefined ? { test_cmd: c.testCmd } : {}),
      ...(c.liveCmd !== undefined ? { live_cmd: c.liveCmd } : {}),
      ...(c.checkCmds !== undefined ? { check_cmds: c.checkCmds } : {}),
      ...(c.concurrency !== undefined ? { concurrency: c.concurrency } : {}),
      ...(c.mode !== undefined ? { mode: c.mode } : {}),
    },
    settings,
  };
}

function parseDocument(file: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 50 });
  } catch (error) {
    const first = (error as Error).message.split('\n')[0];
    throw new BadInputError(`--settings-file ${file} is not valid JSON or YAML: ${first}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new BadInputError(`--settings-file ${file} must hold an object of settings`);
  return value as Record<string, unknown>;
}
