import type { Command } from 'commander';
import { computeGroundTruth, distancesPathFor } from '../../data/groundtruth.ts';
import { readFloatVecs } from '../../data/vecs.ts';
import { parseMetric } from '../../data/types.ts';
import { globals, openFromOptions, positiveInt, print } from '../context.ts';
import { checkOutputs } from '../../data/output-paths.ts';
import { watchOutputs } from '../signals.ts';

export function registerGroundTruthCommand(program: Command): void {
  program
    .command('groundtruth')
    .description('exact k nearest neighbours on the GPU; writes ids as .ivecs and distances as .fvecs beside them')
    .requiredOption('--base <file>', 'base vectors (.fvecs or .bvecs)')
    .requiredOption('--queries <file>', 'query vectors (.fvecs or .bvecs)')
    .requiredOption('--out <file.ivecs>', 'output ids; distances go to the same name with .fvecs')
    .option('--k <k>', 'neighbours per query', '100')
    .option('--metric <metric>', 'l2, ip or angular', 'l2')
    .option('--cache-dir <dir>', 'ground-truth cache (default $CRINN_CACHE_DIR or ~/.cache/crinn)')
    .option('--no-cache', 'recompute even if a cached result exists')
    .action(async (o: { base: string; queries: string; out: string; k: string; metric: string; cacheDir?: string; cache: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const metric = parseMetric(o.metric, '--metric');
      const k = positiveInt(o.k, '--k');
      // The distances file beside the ids is an output too: `--out base.ivecs` must not overwrite base.fvecs.
      const distOut = distancesPathFor(o.out);
      await checkOutputs(
        [{ path: o.out, flag: '--out' }, { path: distOut, flag: '--out (distances beside it)' }],
        [{ path: o.base, flag: '--base' }, { path: o.queries, flag: '--queries' }],
      );
      watchOutputs([o.out, distOut]);
      const [base, queries] = await Promise.all([readFloatVecs(o.base), readFloatVecs(o.queries)]);
      const res = await computeGroundTruth({
        base, queries, k, metric, out: o.out, cacheDir: o.cacheDir, useCache: o.cache,
        baseLabel: o.base, queriesLabel: o.queries, open: () => openFromOptions(g),
        onCacheRejected: (why) => { if (!g.quiet) process.stderr.write(`crinn: ${why}\n`); },
      });
      if (!g.quiet) print(`${res.cached ? 'cached' : 'computed'}: ${queries.n} x ${k} neighbours -> ${res.idsPath} and ${res.distancesPath}${res.seconds !== undefined ? ` in ${res.seconds.toFixed(2)} s` : ''}`);
    });
}
