/**
 * `run --lanes agents` must not hold a token, and /proc/<pid>/environ shows a process's
 * environment as it was at exec time — deleting from process.env does not change it. So when
 * started with any secret in its environment, the agents lane re-executes itself without them
 * and only relays signals and the exit code.
 */
import { spawn } from 'node:child_process';
import { dropSecrets } from './credentials.js';

export function reexecWithoutSecrets(): Promise<number> {
  const env = { ...process.env };
  dropSecrets(env);
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env,
    stdio: 'inherit',
  });
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
