/**
 * Validating `--json` documents against the shipped schemas (docs/json-schema/), with ajv.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';

export const JSON_SCHEMA_DIR = path.resolve('docs/json-schema');

const ajv = new Ajv({ allErrors: true, strict: false });
// Every file under its name, so one schema can `$ref` another (operator-event.schema.json).
for (const file of readdirSync(JSON_SCHEMA_DIR))
  ajv.addSchema(JSON.parse(readFileSync(path.join(JSON_SCHEMA_DIR, file), 'utf8')) as object, file);

/**
 * The schema problems of `doc` as `path: message` lines; empty when it validates.
 *
 * @example
 * ```ts
 * expect(validateContract('status', JSON.parse(stdout))).toEqual([]);
 * ```
 */
export function validateContract(command: string, doc: unknown): string[] {
  const validate = ajv.getSchema(`${command}.schema.json`);
  if (!validate) return [`no schema docs/json-schema/${command}.schema.json`];
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? '?'}`);
}
