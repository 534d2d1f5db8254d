import type { Command } from 'commander';
import { dawnProvider } from '../../gpu/provider.ts';
import { enumerateAdapters, parseBackend, platformBackends, NO_ADAPTER_HINT } from '../../gpu/adapters.ts';
import { UserError } from '../../errors.ts';
import { globals, print } from '../context.ts';

export function registerAdapterCommands(program: Command): void {
  program
    .command('adapters')
    .description('list every WebGPU adapter Dawn sees: name, vendor, backend, type, features, compute limits')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const backends = g.backend ? [parseBackend(g.backend)] : platformBackends();
      const found = await enumerateAdapters(await dawnProvider(), backends);
      if (found.length === 0) throw new UserError(NO_ADAPTER_HINT);
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
