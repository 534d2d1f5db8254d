import type { Command } from 'commander';
import { dawnProvider } from '../../gpu/provider.ts';
import { enumerateAdapters, filterAdapters, parseBackend, platformBackends, noAdapterHint } from '../../gpu/adapters.ts';
import { UserError } from '../../errors.ts';
import { globals, print } from '../context.ts';

export function registerAdapterCommands(program: Command): void {
  program
    .command('adapters')
    .description('list every WebGPU adapter Dawn sees: name, vendor, backend, type, features, compute limits (--adapter filters)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const backends = g.backend ? [parseBackend(g.backend)] : platformBackends();
      const all = await enumerateAdapters(await dawnProvider(), backends);
      if (all.length === 0) throw new UserError(noAdapterHint(backends));
      // --adapter narrows the list exactly as it narrows the choice of the other commands.
      const found = g.adapter === undefined ? all : filterAdapters(all, g.adapter);
      if (found.length === 0) throw new UserError(`--adapter: no adapter matches '${g.adapter}'; available: ${all.map((c) => c.description.name).join('; ')}`);
      const list = found.map((c) => c.description);
      if (opts.json) return print(JSON.stringify(list, null, 2));
      for (const a of list) {
        print(`${a.name}`);
        print(`  vendor ${a.vendor || '-'}  architecture ${a.architecture || '-'}  type ${a.type}  feature level ${a.featureLevel}`);
        print(`  description ${a.description || '-'}`);
        print(`  subgroups ${a.subgroupMinSize}-${a.subgroupMaxSize}  features ${a.features.join(', ')}`);
        print(`  limits ${Object.entries(a.limits).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      }
    });
}
