/**
 * The library API: build an index (CPU graph construction, GPU exact kNN for the initial graph
 * when a device is given), save and load it, and search it on the GPU, with the baseline kernels
 * or a tuned-kernel bundle (kernels/README.md).
 */
import type { GpuContext } from '../gpu/device.ts';
import { GpuBruteForce } from '../data/exact-knn.ts';
import type { Metric, Neighbors, VectorSet } from '../data/types.ts';
import { buildGraph, type BuildOptions, type BuildResult, type BuildStats } from '../graph/build.ts';
import type { BuildParamsInput } from '../graph/params.ts';
import type { Index } from '../graph/index-file.ts';
import { codecFor, DEFAULT_CODEC_SEED, searchRowBytes, trainCodec, type VectorStorage } from '../data/codecs/registry.ts';
import { GpuSearcher } from './gpu-search.ts';
import { filteredSearch } from './filter.ts';
import type { FilterSpec } from '../data/filter.ts';
import { checkLabelSets, type LabelSets } from '../data/labels.ts';
import { UserError } from '../errors.ts';
import { cpuBeamSearch } from './cpu-search.ts';
import { resolveSearchParams, type SearchParams } from './params.ts';
import { kernelBuildParams, kernelSearchParams, kernelStorage, type KernelBundle } from './kernel-params.ts';

export { saveIndex, loadIndex, type Index } from '../graph/index-file.ts';

/** Exact kNN of the base against itself on the GPU (self excluded): the CAGRA initial graph. */
export function gpuKnnProvider(ctx: GpuContext) {
  return async (base: VectorSet, k: number, metric: Metric): Promise<Int32Array> => {
    const bf = new GpuBruteForce(ctx, base, metric);
    try {
      const res = await bf.search(base, k + 1);
      const out = new Int32Array(base.n * k);
      for (let i = 0; i < base.n; i++) {
        let o = 0;
        for (let j = 0; j <= k && o < k; j++) {
          const v = res.ids[i * (k + 1) + j];
          if (v !== i) out[i * k + o++] = v;
        }
      }
      return out;
    } finally {
      bf.destroy();
    }
  };
}

export interface BuildIndexOptions extends Omit<BuildOptions, 'knn'> {
  /**
   * A device for the exact initial kNN graph (small sets). Used only on hardware GPUs: on a
   * software adapter (lavapipe) the O(n^2) scan loses to CPU NN-descent (siftsmall: 17 s vs 2 s).
   */
  ctx?: GpuContext;
  /** How vectors are stored in the index and on the GPU: a codec name (src/data/codecs/; f16 searches with f32 refinement). */
  storage?: VectorStorage;
  /**
   * A tuned-kernel bundle (src/search/bundle.ts loadKernelBundle / pickKernelBundle): its graph
   * knobs become the default build params and it picks the storage it was measured on; explicit
   * `params` and `storage` win.
   */
  kernels?: KernelBundle;
  /** Labels per base vector (src/data/labels.ts), kept in the index (and its file) for filtered search. */
  labels?: LabelSets;
}

/** Builds an index over `base` (angular rows must already be normalised, as loadDataset does). */
export async function buildIndex(base: VectorSet, metric: Metric, params: BuildParamsInput = {}, opts: BuildIndexOptions = {}): Promise<{ index: Index; stats: BuildStats }> {
  // Checked before the build too: a bad labels file fails before minutes of work.
  const badLabels = opts.labels && checkLabelSets(opts.labels, base.n);
  if (badLabels) throw new UserError(badLabels);
  const res = await buildIndexGraph(base, metric, params, opts);
  return { index: indexOnGraph(base, metric, res, opts), stats: res.stats };
}

/** The graph part of buildIndex (the bundle's graph knobs as default params): independent of the storage codec. */
export function buildIndexGraph(base: VectorSet, metric: Metric, params: BuildParamsInput = {}, opts: BuildIndexOptions = {}): Promise<BuildResult> {
  if (opts.kernels) params = { ...kernelBuildParams(opts.kernels), ...params };
  return buildGraph(base, metric, params, { ...opts, knn: opts.ctx && opts.ctx.adapter.type === 'gpu' ? gpuKnnProvider(opts.ctx) : undefined });
}

/**
 * An index over `base` searching a graph built by buildIndexGraph with the same base and metric:
 * the codec of `opts.storage` (or the bundle's) is trained here, so several codecs share one build.
 */
export function indexOnGraph(base: VectorSet, metric: Metric, res: Omit<BuildResult, 'stats'>, opts: Pick<BuildIndexOptions, 'storage' | 'kernels' | 'labels'> = {}): Index {
  const badLabels = opts.labels && checkLabelSets(opts.labels, base.n);
  if (badLabels) throw new UserError(badLabels);
  const codec = codecFor(opts.storage ?? (opts.kernels && kernelStorage(opts.kernels)) ?? 'f32');
  // The index keeps the values as its codec stores them (f16: rounded) in memory too, so a saved and reloaded index is identical.
  const vectors = codec.round(base.data);
  // A trained codec (int8, binary) keeps its params and codes beside the f32 rows the rerank reads.
  const codecData = trainCodec(codec, vectors, base.n, base.dim, res.params.seed ?? DEFAULT_CODEC_SEED);
  return { metric, dim: base.dim, n: base.n, storage: codec.name, vectors, graph: res.graph, entryPoints: res.entryPoints, entryLayer: res.entryLayer, buildParams: res.params, ...(codecData ? { codecData } : {}), ...(opts.labels ? { labels: opts.labels } : {}) };
}

/** Search params of one call, and its filter (src/search/filter.ts). */
export type SearchOptions = Partial<SearchParams> & { filter?: FilterSpec };

export interface AnnEngineOptions {
  /** A loaded bundle (src/search/bundle.ts); for a folder, `AnnEngine.open`. */
  kernels?: KernelBundle;
}

export interface OpenEngineOptions {
  /**
   * A bundle folder, a folder of bundles (e.g. the repository's kernels/) from which the one for
   * this adapter is picked (src/search/bundle.ts: exact adapter name, then this dataset), or a
   * loaded bundle. No match: the baseline kernels, and one line to `onMessage`.
   */
  kernels?: string | KernelBundle;
  /** Fingerprint (src/data/fingerprint.ts) of the dataset: a bundle tuned on it is preferred. */
  fingerprint?: string;
  onMessage?: (line: string) => void;
}

/** An index uploaded to one device, ready for batched searches. */
export class AnnEngine {
  readonly index: Index;
  /** The tuned-kernel bundle in use; undefined: the baseline kernels. */
  readonly kernels: KernelBundle | undefined;
  private readonly searcher: GpuSearcher;

  constructor(ctx: GpuContext, index: Index, opts: AnnEngineOptions = {}) {
    this.index = index;
    this.kernels = opts.kernels;
    this.searcher = new GpuSearcher(ctx, index, opts.kernels?.sources ?? {});
  }

  /**
   * An engine with the bundle `opts.kernels` names. The loader is imported here, not at the top:
   * it reads manifests with zod, which the evaluator's sandboxed graph child (it imports this file)
   * may not read.
   */
  static async open(ctx: GpuContext, index: Index, opts: OpenEngineOptions = {}): Promise<AnnEngine> {
    let kernels: KernelBundle | undefined;
    if (typeof opts.kernels === 'string') {
      const { pickKernelBundle } = await import('./bundle.ts');
      kernels = pickKernelBundle(opts.kernels, ctx.adapter, { fingerprint: opts.fingerprint, onMessage: opts.onMessage });
    } else {
      kernels = opts.kernels;
    }
    return new AnnEngine(ctx, index, { kernels });
  }

  /** Params of one call: the bundle's tuned defaults (if any) under the caller's explicit ones. */
  private paramsFor(k: number, params: Partial<SearchParams>): Partial<SearchParams> {
    return this.kernels ? kernelSearchParams(this.kernels, k, params, codecFor(this.index.storage).needsRefine) : params;
  }

  /**
   * Top-k ids (-1 where fewer were found) and distances for every query, in one batched call.
   * `filter`: one filter for all queries or one per query (src/data/filter.ts: `{ anyOf }`,
   * `{ allOf }` over the index's labels, `{ bitmap }` over base ids); only passing ids come back.
   */
  search(queries: VectorSet, k: number, opts: SearchOptions = {}): Promise<Neighbors> {
    const { filter, ...params } = opts;
    if (filter !== undefined) return filteredSearch(this.searcher, queries, k, this.paramsFor(k, params), filter);
    return this.searcher.search(queries, k, this.paramsFor(k, params));
  }

  /**
   * Mean distance evaluations per query of `search` with these params, counted by the CPU reference
   * on the same index (it visits exactly what the kernel visits; the kernel's forgettable hash can
   * only add revisits of nodes that no longer matter), plus the refine pass's exact distances.
   * For the kernel's own count, GpuSearcher.search with countEvaluations.
   */
  evaluations(queries: VectorSet, k: number, params: Partial<SearchParams> = {}): number {
    const w = this.work(queries, k, params);
    return w.beam + w.refine;
  }

  /**
   * Work per query of `search`: beam-search distance evaluations (CPU reference count, see
   * `evaluations`), refine evaluations, and the bytes of base rows they read: a beam evaluation
   * reads one row as the codec packs it (int8 codes, binary bits), a refine one an f32 row.
   * An estimate of memory traffic, not a measurement: caches are not modelled.
   */
  work(queries: VectorSet, k: number, params: Partial<SearchParams> = {}): { beam: number; refine: number; bytes: number } {
    params = this.paramsFor(k, params);
    // The CPU reference walks the f32 rows: for a lossy codec its visits approximate the kernel's.
    const r = cpuBeamSearch(this.index, queries, k, params);
    let sum = 0;
    for (const e of r.evaluations) sum += e;
    const codec = codecFor(this.index.storage);
    const lossy = codec.needsRefine;
    const p = resolveSearchParams(params, k, this.index.graph.degree, lossy && (codec.refineFactor ?? true));
    const refine = lossy && p.refine > 0 ? p.searchK : 0;
    const beam = sum / Math.max(1, r.nq);
    return { beam, refine, bytes: beam * searchRowBytes(codec, this.index.dim) + refine * Math.ceil(this.index.dim / 4) * 16 };
  }

  destroy(): void {
    this.searcher.destroy();
  }
}
