/** `crinn variant init`: a module's shipped baseline as an editable variant folder. */
import type { Command } from 'commander';
import { MODULE_NAMES } from '../../bundle/module-manifest.ts';
import { parseModuleName } from '../../evolve/modules.ts';
import { initVariant } from '../../evolve/variant-init.ts';
import { globals, print } from '../context.ts';
import { planDir } from '../../data/output-paths.ts';

export function registerVariantCommands(program: Command): void {
  const variant = program.command('variant').description('variant folders of the evolvable modules (graph, search, refine)');
  variant
    .command('init')
    .description('write the baseline of a module (variant.json plus its files) into a new folder, ready to edit')
    .requiredOption('--module <module>', `module: ${MODULE_NAMES.join(', ')}`)
    .requiredOption('--out <dir>', 'new or empty folder')
    .action((o: { module: string; out: string }, cmd: Command) => {
      const module = parseModuleName(o.module);
      // A file, a folder under /proc or an unwritable parent: one line naming --out, nothing created.
      planDir(o.out, '--out');
      const r = initVariant(module, o.out);
      if (!globals(cmd).quiet) print(`${o.module} baseline -> ${r.dir}: ${r.files.join(', ')}`);
    });
}
