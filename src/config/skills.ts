/**
 * Where the role charters live: the package's skills/, or LOOPWRIGHT_SKILLS_DIR (an operator's
 * own charters). The validator charter is part of what a batch pins.
 */
import path from 'node:path';
import { packageRoot } from './package-root.js';

export function skillsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOOPWRIGHT_SKILLS_DIR
    ? path.resolve(env.LOOPWRIGHT_SKILLS_DIR)
    : path.join(packageRoot(), 'skills');
}
