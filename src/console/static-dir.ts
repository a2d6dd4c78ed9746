/**
 * Where the console's page script and stylesheet live: files shipped with the package (served as
 * files so the Content-Security-Policy can refuse every inline script and style).
 */
import path from 'node:path';
import { packageRoot } from '../config/package-root.js';

export function staticDir(): string {
  return path.join(packageRoot(), 'src', 'console', 'static');
}
