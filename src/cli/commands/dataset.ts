/** `crinn dataset info | download | list`: thin wrappers over src/data. */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../../errors.ts';
import { parseMetric } from '../../data/types.ts';
import { normalizeRows } from '../../data/metric.ts';
import { loadDataset, listKnownDatasets } from '../../data/resolve.ts';
import type { LoadOptions } from '../../data/resolve.ts';
import { datasetStats, formatStats } from '../../data/stats.ts';
import { datasetFingerprint } from '../../data/fingerprint.ts';
import { cachedDatasetPath, defaultCacheDir, downloadDataset } from '../../data/download.ts';
import { optionalPositiveInt, print } from '../context.ts';

interface GlobalOpts {
  dataDir?: string;
  quiet?: boolean;
  verbose?: boolean;
}


export function registerDatasetCommands(program: Command): void {
  const dataset = program
    .command('dataset')
    .description('inspect, list and download datasets')
    .addHelpText(
      'after',
      `
A dataset is a name or a path:
  siftsmall, glove-50-10k            local sets under --data-dir / $CRINN_DATA_DIR
  synthetic-20k, synthetic-5000-d37  seeded synthetic data (synthetic-N[k|m][-dD][-qQ][-cC][-sSEED][-METRIC])
  sift-128-euclidean, ...            ann-benchmarks sets, after \`crinn dataset download NAME\`
  FILE.hdf5 | FILE.fvecs | FILE.bvecs | FILE.txt (GloVe text)`,
    );

  dataset
    .command('info')
    .description('show shape, metric, norms, value range, sparsity, duplicates and ground truth of a dataset')
    .argument('<dataset>', 'dataset name or file path')
    .option('--json', 'print JSON instead of a table')
    .option('--limit <n>', 'read only the first n base rows')
    .option('--queries <n|file>', 'number of queries, or a query .fvecs/.bvecs file for a vecs base')
    .option('--ground-truth <file>', 'ground-truth .ivecs for a vecs base with a query file')
    .option('--metric <metric>', 'metric for .fvecs/.bvecs/.txt files: l2, ip, angular')
    .option('--cache-dir <dir>', 'download cache (default $CRINN_CACHE_DIR or ~/.cache/crinn)')
    .action(async (target: string, _opts: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOpts & { json?: boolean; limit?: string; queries?: string; groundTruth?: string; metric?: string; cacheDir?: string }>();
      const q = o.queries;
      const load: LoadOptions = {
        dataDir: o.dataDir,
        cacheDir: o.cacheDir,
        limit: optionalPositiveInt(o.limit, '--limit'),
        queries: q === undefined ? undefined : /^\d+$/.test(q) ? optionalPositiveInt(q, '--queries') : q,
        groundTruth: o.groundTruth,
        metric: o.metric === undefined ? undefined : parseMetric(o.metric, '--metric'),
        // Raw values: the norms of an angular set are the interesting part before normalising.
        normalize: false,
      };
      const ds = await loadDataset(target, load);
      const stats = datasetStats(ds);
      if (ds.metric === 'angular') {
        normalizeRows(ds.base, `${ds.source} (base)`);
        normalizeRows(ds.queries, `${ds.source} (queries)`);
      }
      const fingerprint = datasetFingerprint(ds);
      if (o.json) print(JSON.stringify({ ...stats, fingerprint }, null, 2));
      else print(`${formatStats(stats)}\n\nfingerprint  ${fingerprint}${ds.metric === 'angular' ? ' (of the normalised vectors)' : ''}`);
    });

  dataset
    .command('download')
    .description('download an ann-benchmarks HDF5 file into the cache (instant when already there)')
    .argument('<name>', 'dataset name, e.g. sift-128-euclidean (see `crinn dataset list`)')
    .option('--cache-dir <dir>', 'download cache (default $CRINN_CACHE_DIR or ~/.cache/crinn)')
    .option('--url <url>', 'download from this URL instead of the manifest URL (any name then allowed)')
    .option('--sha256 <hex>', 'expected sha256 of the file')
    .option('--force', 'download again even when the file is cached')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOpts & { cacheDir?: string; url?: string; sha256?: string; force?: boolean }>();
      if (o.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(o.sha256)) throw new UserError(`--sha256: expected 64 hex digits, got '${o.sha256}'`);
      const r = await downloadDataset(name, { cacheDir: o.cacheDir, url: o.url, force: o.force, quiet: o.quiet, sha256: o.sha256 });
      if (!o.quiet) {
        process.stderr.write(r.cached ? `${name}: already cached (${r.bytes} bytes)\n` : `${name}: downloaded ${r.bytes} bytes from ${r.url}, sha256 ${r.sha256}\n`);
      }
      print(r.path);
    });

  dataset
    .command('list')
    .description('list the known dataset names')
    .option('--json', 'print JSON instead of a table')
    .option('--cache-dir <dir>', 'download cache (default $CRINN_CACHE_DIR or ~/.cache/crinn)')
    .action((_opts: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOpts & { json?: boolean; cacheDir?: string }>();
      const cacheDir = o.cacheDir ?? defaultCacheDir();
      const list = listKnownDatasets().map((d) => ({
        ...d,
        downloaded: d.kind === 'ann-benchmarks' ? existsSync(cachedDatasetPath(d.name, cacheDir)) : undefined,
      }));
      if (o.json) return print(JSON.stringify(list, null, 2));
      const w = Math.max(...list.map((d) => d.name.length));
      print(
        list
          .map((d) => {
            const shape = `${d.n} x ${d.dim}, ${d.nq} queries`.padEnd(30);
            const mark = d.downloaded === undefined ? '' : d.downloaded ? '  [cached]' : '';
            return `${d.name.padEnd(w)}  ${d.kind.padEnd(14)}  ${d.metric.padEnd(7)}  ${shape}  ${d.description}${mark}`;
          })
          .join('\n'),
      );
    });
}
