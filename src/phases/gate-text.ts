/**
 * Turning gate results into the short texts stored in events (findings, details).
 */
import type { GateResult } from '../workspace/index.js';
import type { CommandGateResult } from '../workspace/index.js';

export function describeViolations(result: GateResult<string>): string {
  if (result.ok) return '';
  return result.violations
    .map((v) => `${v.path}: ${v.why}${v.detail ? ` (${v.detail})` : ''}`)
    .join('\n');
}

export function describeCommand(label: string, command: string, r: CommandGateResult): string {
  const how = r.timedOut
    ? 'timed out'
    : r.passed
      ? 'passed'
      : `failed (exit ${r.exitCode ?? r.signal})`;
  return (
    `${label} \`${command}\` ${how} in ${Math.round(r.durationMs)} ` +
    `ms\n${tailLines(r.output, 40)}`
  );
}

export function tailLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}
