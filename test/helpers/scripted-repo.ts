/**
 * A sample repository registered with scripted agents, in a temp LOOPWRIGHT_HOME, for tests that
 * run the real factory.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { Script } from '../../src/agents/scripted/script.js';
import type { Db } from '../../src/db/connection.js';
import { insertRepository } from '../../src/db/repositories.js';
import { createDemoRepo } from '../../src/demo/playbook.js';
import { startFactory } from '../../src/worker/factory.js';

export interface ScriptedRepo {
  readonly home: string;
  readonly repoPath: string;
  runUntilIdle(concurrency?: number): Promise<void>;
  cleanup(): Promise<void>;
}

export async function scriptedRepo(
  handle: Db,
  name: string,
  script: Script,
  settings: Record<string, unknown> = {},
): Promise<ScriptedRepo> {
  const home = await mkdtemp(path.join(os.tmpdir(), `lw-${name}-`));
  const repoPath = await createDemoRepo(path.join(home, name));
  const scriptPath = path.join(home, 'script.json');
  await writeFile(scriptPath, JSON.stringify(script));
  const scripted = { provider: 'scripted' };
  await insertRepository(handle.db, {
    name,
    path: repoPath,
    test_cmd: 'node --test',
    live_cmd: 'node scripts/live-check.mjs',
    settings: JSON.stringify({
      agents: { lead: scripted, generator: scripted, validator: scripted },
      script: scriptPath,
      agentTimeoutSeconds: 60,
      ...settings,
    }),
  });
  return {
    home,
    repoPath,
    async runUntilIdle(concurrency = 2) {
      const factory = await startFactory({
        handle,
        home,
        concurrency,
        untilIdle: true,
        logger: pino({ level: 'silent' }),
        heartbeatMs: 1000,
      });
      await factory.done;
    },
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}
