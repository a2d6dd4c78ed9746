/**
 * `run --lanes agents` must not hold a token, and /proc/<pid>/environ shows a process's
 * environment as it was at exec time — deleting from process.env does not change it. So when
 * started with any secret in its environment, the agents lane re-executes itself without them
 * and only relays signals and the exit code; the relaying parent then overwrites the secrets'
 * values in its own exec-time environment block ({@link scrubExecEnvironment}), so no process of
 * the lane shows a token to another process of the same user (an agent reading its ancestors).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { SECRET_NAMES, dropSecrets } from './credentials.js';

export function reexecWithoutSecrets(): Promise<number> {
  const env = { ...process.env };
  dropSecrets(env);
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env,
    stdio: 'inherit',
  });
  dropSecrets(process.env);
  scrubExecEnvironment();
  const relay = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = relay('SIGINT');
  const onTerm = relay('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code ?? (signal ? 128 + 1 : 1));
    });
  });
}

/** Every secret variable name, with its `_FILE` pointer. */
const SECRET_VARIABLES: ReadonlySet<string> = new Set(
  SECRET_NAMES.flatMap((n) => [n, `${n}_FILE`]),
);

/**
 * Overwrite (with `*`) the values of the secret variables in this process's exec-time
 * environment block, the memory /proc/<pid>/environ reads (Linux: its bounds are fields 50-51 of
 * /proc/self/stat; a process may write its own memory through /proc/self/mem). Best effort:
 * returns how many values were overwritten, 0 where the kernel refuses.
 */
export function scrubExecEnvironment(): number {
  let fd: number | null = null;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const envStart = Number(fields[50 - 3]);
    const block = readFileSync('/proc/self/environ');
    if (!Number.isSafeInteger(envStart) || envStart <= 0) return 0;
    fd = openSync('/proc/self/mem', 'r+');
    let scrubbed = 0;
    let at = 0;
    while (at < block.length) {
      const end = block.indexOf(0, at) === -1 ? block.length : block.indexOf(0, at);
      const eq = block.indexOf(0x3d, at);
      if (eq > at && eq < end && SECRET_VARIABLES.has(block.toString('utf8', at, eq))) {
        const mask = Buffer.alloc(end - eq - 1, '*');
        if (mask.length > 0) writeSync(fd, mask, 0, mask.length, envStart + eq + 1);
        scrubbed += 1;
      }
      at = end + 1;
    }
    return scrubbed;
  } catch {
    return 0;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
