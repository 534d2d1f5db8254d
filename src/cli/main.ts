#!/usr/bin/env node
/**
 * The `crinn` entry. Dawn's limit warnings come from native code, so the CLI runs itself as a
 * child behind a stderr filter (stderr-filter.ts); the decision comes before the program and its
 * commands are loaded, so the filtering parent costs one bare Node start, not two CLI loads.
 */
import { fileURLToPath } from 'node:url';
import { adoptParentTerminal, relaunchFiltered } from './stderr-filter.ts';

const relaunched = await relaunchFiltered(fileURLToPath(import.meta.url), process.argv);
let code: number;
if (relaunched !== undefined) {
  code = relaunched;
} else {
  adoptParentTerminal();
  // Only the process that writes files removes its temp files on SIGINT/SIGTERM (the filter parent forwards them).
  (await import('./signals.ts')).installSignalCleanup();
  if (!process.argv.includes('--quiet')) (await import('./slow-wait.ts')).showSlowGpuWaits();
  code = await (await import('./program.ts')).main(process.argv);
}
// Dawn keeps native threads alive; exit explicitly once output is flushed.
process.stdout.write('', () => process.exit(code));
