/** `crinn build` and `crinn search`: thin wrappers over the engine API. */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../../errors.ts';
import { loadDataset } from '../../data/resolve.ts';
import { readFloatVecs, writeNeighborFiles } from '../../data/vecs.ts';
import { normalizeRows } from '../../data/metric.ts';
import { parseMetric, type Metric, type VectorSet } from '../../data/types.ts';
import { distancesPathFor } from '../../data/groundtruth.ts';
import { assertDistancesFit, assertStorageFits } from '../../data/validate.ts';
import { codecFor } from '../../data/codecs/registry.ts';
import { readLabelsFile } from '../../data/labels-file.ts';
import { AnnEngine, buildIndex, loadIndex, saveIndex } from '../../search/engine.ts';
import { indexBytesPerVector } from '../../graph/index-format.ts';
import { MAX_ITOPK, resolveSearchParams } from '../../search/params.ts';
import type { BuildParamsInput } from '../../graph/params.ts';
import { globals, openFromOptions, positiveInt, print } from '../context.ts';
import { checkOutputs } from '../../data/output-paths.ts';
import { watchOutputs } from '../signals.ts';

function optionalInt(v: string | undefined, flag: string): number | undefined {
  return v === undefined ? undefined : v === '0' ? 0 : positiveInt(v, flag);
}

function intAtMost(v: string, flag: string, max: number, what: string): number {
  const x = positiveInt(v, flag);
  if (x > max) throw new UserError(`${flag}: ${x} exceeds the maximum ${max} (${what})`);
  return x;
}

/** Base vectors from a file (all rows) or a named dataset, normalised for angular. */
async function loadBase(o: { base?: string; dataset?: string; metric?: string }, dataDir?: string): Promise<{ base: VectorSet; metric: Metric; source: string }> {
  if (o.dataset) {
    const ds = await loadDataset(o.dataset, { dataDir });
    if (o.metric && parseMetric(o.metric, '--metric') !== ds.metric) throw new UserError(`--metric: dataset ${o.dataset} is ${ds.metric}`);
    return { base: ds.base, metric: ds.metric, source: o.dataset };
  }
  const file = o.base!;
  const metric = parseMetric(o.metric ?? 'l2', '--metric');
  let base: VectorSet;
  if (/\.(f|b)vecs$/i.test(file)) base = await readFloatVecs(file);
  else base = (await loadDataset(file, { dataDir, metric: /\.txt$/i.test(file) ? metric : undefined })).base;
  if (metric === 'angular') normalizeRows(base, file);
  return { base, metric, source: file };
}

export function registerIndexCommands(program: Command): void {
  program
    .command('build')
    .description('build a graph index on the CPU (worker threads) and write it to an index file')
    .option('--base <file>', 'base vectors: .fvecs, .bvecs, .hdf5 (train) or GloVe .txt')
    .option('--dataset <name>', 'a named dataset instead of --base (see `crinn dataset list`)')
    .option('--metric <metric>', 'l2, ip or angular (files only; named datasets fix their own)')
    .requiredOption('--out <index>', 'index file to write')
    .option('--algorithm <name>', 'cagra (kNN graph + rank-based pruning) or vamana (robust pruning)', 'cagra')
    .option('--degree <n>', 'graph degree (CAGRA graph_degree; 0 = auto)')
    .option('--intermediate-degree <n>', 'initial kNN graph degree (CAGRA intermediate_graph_degree; 0 = 2 x degree)')
    .option('--storage <type>', 'vector storage: f32; f16 (half the memory); int8 (per-dimension scaled codes, a quarter of the bytes a search reads); binary (1 bit a dimension, RaBitQ); the lossy ones rerank their candidates in f32', 'f32')
    .option('--threads <n>', 'worker threads (0 = all cores)')
    .option('--seed <n>', 'build seed', '1')
    .option('--labels <file>', 'labels per base vector for filtered search, stored in the index: text, one line per vector of label ids (0..2^31-1) separated by spaces or commas; or FILE.u32, a little-endian u32 bitset per vector')
    .action(async (o: { base?: string; dataset?: string; metric?: string; out: string; algorithm: string; degree?: string; intermediateDegree?: string; storage: string; threads?: string; seed: string; labels?: string }, cmd: Command) => {
      const g = globals(cmd);
      if (!!o.base === !!o.dataset) throw new UserError('build: give exactly one of --base FILE or --dataset NAME');
      if (o.algorithm !== 'cagra' && o.algorithm !== 'vamana') throw new UserError(`--algorithm: unknown '${o.algorithm}'; allowed: cagra, vamana`);
      const codec = codecFor(o.storage, '--storage');
      const params: BuildParamsInput = {
        algorithm: o.algorithm,
        graphDegree: optionalInt(o.degree, '--degree'),
        intermediateDegree: optionalInt(o.intermediateDegree, '--intermediate-degree'),
        threads: optionalInt(o.threads, '--threads'),
        seed: optionalInt(o.seed, '--seed'),
      };
      for (const k of Object.keys(params) as (keyof BuildParamsInput)[]) if (params[k] === undefined) delete params[k];
      // Before the build, not after it: a bad --out must not cost the whole build.
      const input = o.base ?? (o.dataset && existsSync(o.dataset) ? o.dataset : undefined);
      await checkOutputs([{ path: o.out, flag: '--out' }], [input === undefined ? undefined : { path: input, flag: o.base ? '--base' : '--dataset' }, o.labels === undefined ? undefined : { path: o.labels, flag: '--labels' }]);
      watchOutputs([o.out]);
      const { base, metric, source } = await loadBase(o, g.dataDir);
      assertDistancesFit(base, metric, source);
      assertStorageFits(base, codec, source);
      // Read and checked before the build: a bad line must not cost the whole build.
      const labels = o.labels === undefined ? undefined : await readLabelsFile(o.labels, base.n);
      const ctx = await openFromOptions(g);
      try {
        const { index, stats } = await buildIndex(base, metric, params, { ctx, storage: o.storage, quiet: g.quiet, labels });
        await saveIndex(o.out, index);
        if (!g.quiet) {
          const b = indexBytesPerVector(index);
          print(`built ${source}: n=${index.n} dim=${index.dim} ${metric} degree=${index.graph.degree} entry points=${index.entryPoints.length} storage=${index.storage}${labels ? ` labels=${labels.ids.length} on ${labels.n} vectors` : ''} in ${stats.seconds.toFixed(2)} s (${stats.threads} threads) -> ${o.out}`);
          // Top-level phases (a dotted name is a part of one of them).
          const phases = Object.entries(stats.phases).filter(([k]) => !k.includes('.'));
          print(`phases: ${phases.map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);
          // maxRSS: the process's peak resident set (workers included), KiB on Linux.
          print(`memory: peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB; bytes/vector: base ${b.base}${b.codes ? `, codes ${b.codes.toFixed(1)}` : ''}, graph ${b.graph}, entry layer ${b.entryLayer.toFixed(1)}, total ${b.total.toFixed(1)} (${((b.total * index.n) / 2 ** 20).toFixed(0)} MiB)`);
        }
      } finally {
        ctx.destroy();
      }
    });

  program
    .command('search')
    .description('batched k-NN search of a query file on the GPU; writes ids as .ivecs and distances as .fvecs beside them')
    .requiredOption('--index <file>', 'index file from `crinn build`')
    .requiredOption('--queries <file>', 'query vectors (.fvecs or .bvecs)')
    .requiredOption('--out <file.ivecs>', 'output ids; distances go to the same name with .fvecs')
    .option('--k <k>', 'neighbours per query', '10')
    .option('--ef <n>', `search effort: the internal top list (CAGRA itopk, hnswlib ef), k..${MAX_ITOPK}`, '64')
    .option('--search-width <n>', 'parents expanded per iteration (CAGRA search_width), 1..32', '1')
    .option('--refine <n>', `candidates reranked in f32 (0 = auto: 2k for f16 indexes), 0..${MAX_ITOPK}`, '0')
    .action(async (o: { index: string; queries: string; out: string; k: string; ef: string; searchWidth: string; refine: string }, cmd: Command) => {
      const g = globals(cmd);
      const k = intAtMost(o.k, '--k', MAX_ITOPK, 'the search list holds the results');
      const ef = intAtMost(o.ef, '--ef', MAX_ITOPK, 'the largest search list the kernel supports');
      // Refused rather than silently raised: the effort the user asked for is the effort reported.
      if (ef < k) throw new UserError(`--ef ${ef} is smaller than --k ${k}: the search list must hold the k results; use --ef ${k} or more`);
      const searchWidth = intAtMost(o.searchWidth, '--search-width', 32, 'parents per iteration');
      const refine = o.refine === '0' ? 0 : intAtMost(o.refine, '--refine', MAX_ITOPK, 'the largest search list the kernel supports');
      const distOut = distancesPathFor(o.out);
      await checkOutputs(
        [{ path: o.out, flag: '--out' }, { path: distOut, flag: '--out (distances beside it)' }],
        [{ path: o.index, flag: '--index' }, { path: o.queries, flag: '--queries' }],
      );
      watchOutputs([o.out, distOut]);
      const index = await loadIndex(o.index);
      const queries = await readFloatVecs(o.queries);
      if (queries.dim !== index.dim) throw new UserError(`${o.queries}: dimension ${queries.dim} does not match the index's ${index.dim}`);
      if (index.metric === 'angular') normalizeRows(queries, o.queries);
      assertDistancesFit(queries, index.metric, o.queries);
      assertDistancesFit({ data: index.vectors, n: index.n, dim: index.dim }, index.metric, o.index);
      if (k > index.n) throw new UserError(`--k: ${k} is larger than the index (${index.n} vectors)`);
      const params = { itopk: ef, searchWidth, refine };
      // The list the kernel really runs with: refinement of an f16 index may raise it further.
      const codec = codecFor(index.storage);
      const effective = resolveSearchParams(params, k, index.graph.degree, codec.needsRefine && (codec.refineFactor ?? true));
      const ctx = await openFromOptions(g);
      try {
        const engine = new AnnEngine(ctx, index);
        const t0 = performance.now();
        const res = await engine.search(queries, k, params);
        const s = (performance.now() - t0) / 1000;
        engine.destroy();
        await writeNeighborFiles(o.out, { data: res.ids, n: res.nq, dim: k }, distOut, { data: res.distances!, n: res.nq, dim: k });
        const raised = effective.itopk !== ef ? ` (--ef ${ef} raised to hold refine=${effective.refine} candidates)` : '';
        if (!g.quiet) print(`searched ${queries.n} queries, k=${k}, itopk=${effective.itopk}${raised} in ${s.toFixed(3)} s (${Math.round(queries.n / s)} QPS, first call includes shader compilation) -> ${o.out}`);
      } finally {
        ctx.destroy();
      }
    });
}
