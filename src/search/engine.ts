/**
 * The library API: build an index (CPU graph construction, GPU exact kNN for the initial graph
 * when a device is given), save and load it, and search it on the GPU.
 */
import type { GpuContext } from '../gpu/device.ts';
import { GpuBruteForce } from '../data/exact-knn.ts';
import type { Metric, Neighbors, VectorSet } from '../data/types.ts';
import { buildGraph, type BuildOptions, type BuildStats } from '../index/build.ts';
import type { BuildParamsInput } from '../index/params.ts';
import type { Index, VectorStorage } from '../index/index-file.ts';
import { f16ToF32Array, f32ToF16Array } from '../index/f16.ts';
import { GpuSearcher } from './gpu-search.ts';
import { cpuBeamSearch } from './cpu-search.ts';
import { resolveSearchParams, type SearchParams } from './params.ts';
import { UserError } from '../errors.ts';

export { saveIndex, loadIndex, type Index } from '../index/index-file.ts';

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
  /** How vectors are stored in the index and on the GPU (f16 searches with f32 refinement). */
  storage?: VectorStorage;
}

/** Builds an index over `base` (angular rows must already be normalised, as loadDataset does). */
export async function buildIndex(base: VectorSet, metric: Metric, params: BuildParamsInput = {}, opts: BuildIndexOptions = {}): Promise<{ index: Index; stats: BuildStats }> {
  const storage = opts.storage ?? 'f32';
  if (storage !== 'f32' && storage !== 'f16') throw new UserError(`storage: unknown vector storage '${String(storage)}'; allowed: f32, f16`);
  const res = await buildGraph(base, metric, params, { ...opts, knn: opts.ctx && opts.ctx.adapter.type === 'gpu' ? gpuKnnProvider(opts.ctx) : undefined });
  // f16 indexes keep the rounded values in memory too, so a saved and reloaded index is identical.
  const vectors = storage === 'f16' ? f16ToF32Array(f32ToF16Array(base.data)) : base.data;
  return {
    index: { metric, dim: base.dim, n: base.n, storage, vectors, graph: res.graph, entryPoints: res.entryPoints, entryLayer: res.entryLayer, buildParams: res.params },
    stats: res.stats,
  };
}

/** An index uploaded to one device, ready for batched searches. */
export class AnnEngine {
  readonly index: Index;
  private readonly searcher: GpuSearcher;

  constructor(ctx: GpuContext, index: Index) {
    this.index = index;
    this.searcher = new GpuSearcher(ctx, index);
  }

  /** Top-k ids (-1 where fewer were found) and distances for every query, in one batched call. */
  search(queries: VectorSet, k: number, params: Partial<SearchParams> = {}): Promise<Neighbors> {
    return this.searcher.search(queries, k, params);
  }

  /**
   * Mean distance evaluations per query of `search` with these params, counted by the CPU reference
   * on the same index (it visits exactly what the kernel visits; the kernel's forgettable hash can
   * only add revisits of nodes that no longer matter), plus the refine pass's exact distances.
   * For the kernel's own count, GpuSearcher.search with countEvaluations.
   */
  evaluations(queries: VectorSet, k: number, params: Partial<SearchParams> = {}): number {
    const r = cpuBeamSearch(this.index, queries, k, params);
    let sum = 0;
    for (const e of r.evaluations) sum += e;
    const p = resolveSearchParams(params, k, this.index.graph.degree, this.index.storage === 'f16');
    const refine = this.index.storage === 'f16' && p.refine > 0 ? p.searchK : 0;
    return sum / Math.max(1, r.nq) + refine;
  }

  destroy(): void {
    this.searcher.destroy();
  }
}
