/**
 * Entry point for running the CLI from source (`npx tsx src/cli/entry.ts status`); the installed
 * `bin/loopwright.js` does the same with the compiled dist/.
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
