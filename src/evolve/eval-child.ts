/**
 * The evaluator's sandbox entry (src/evolve/sandbox.ts runs it): builds a searcher from a module's
 * sources and knob values and answers searches. It receives vectors and the graph, never queries'
 * ground truth; the parent decides the queries, holds the clock and scores the ids.
 *
 * Ops: open({ module, sources, knobs, k, index, adapter?, filtered? }) -> { adapter }
 *      search({ queries, dim, k, effort, countEvaluations?, drain?, filter? }) -> { ids, distances, evaluations? }      drain() -> true
 *      buildIndex({ knobs, build }) -> index: only in a throwaway graph-build child, which never answers
 *      a timed call; a child that answers searches never imports variant host code.
 * A filtered evaluation (pool-filter.ts) sends the index with its labels and each search its
 * batch's filters (the parent draws them); the search is the library's filtered search.
 */
import { openGpu, type GpuContext } from '../gpu/device.ts';
import { kernelPipeline } from '../gpu/pipeline.ts';
import { GpuSearcher, defaultSearchSources, type SearchKernelSources, type SearchableIndex } from '../search/gpu-search.ts';
import { moduleKernelRoles, withKernelFiles } from '../search/beam-core.ts';
import { codecFor } from '../data/codecs/registry.ts';
import type { Metric } from '../data/types.ts';
import type { ModuleName } from '../bundle/module-manifest.ts';
import { buildParamsFor, searchParamsFor, storageOf, type Knobs } from '../search/knob-params.ts';
import { filteredSearch } from '../search/filter.ts';
import type { QueryFilter } from '../data/filter.ts';
import type { Neighbors } from '../data/types.ts';

/** The base vectors to build from, and the file URL of the system's prune.ts as the parent materialised it (graph-variant.ts). */
export interface BuildPayload {
  vectors: Float32Array;
  n: number;
  dim: number;
  metric: Metric;
  pruneModule: string;
}

export interface OpenPayload {
  module: ModuleName;
  sources: Record<string, string>;
  knobs: Knobs;
  k: number;
  /** The index to search: for a graph evaluation, the one this system's graph code built (checked by the parent). */
  index: SearchableIndex;
  adapter?: { adapter?: string; backend?: string };
  /** refine: the search stage's best (sources and knobs) to search with instead of the baseline. */
  searchContext?: { sources: Record<string, string>; knobs: Knobs };
  /** A filtered evaluation: the index carries labels; the filtered kernels compile at open. */
  filtered?: boolean;
}

/** A search call's filters: each distinct one once, per query its index (pool-filter.ts filterPayload). */
interface FilterPayload {
  distinct: QueryFilter[];
  of: Uint32Array;
}

function filtersOf(f: FilterPayload, nq: number): QueryFilter[] {
  if (!Array.isArray(f.distinct) || !(f.of instanceof Uint32Array) || f.of.length !== nq) throw new Error(`search: the filter payload names ${f.of?.length} filters for ${nq} queries`);
  return Array.from(f.of, (i) => {
    if (i >= f.distinct.length) throw new Error(`search: filter ${i} of ${f.distinct.length}`);
    return f.distinct[i];
  });
}

let ctx: GpuContext | undefined;
let searcher: GpuSearcher | undefined;
let state: { module: ModuleName; knobs: Knobs; dim: number; searchKnobs?: Knobs } | undefined;

function sourcesFor(module: ModuleName, files: Record<string, string>, searchContext?: OpenPayload['searchContext']): SearchKernelSources {
  let s = defaultSearchSources();
  // refine searches with the search stage's best kernels.
  if (module === 'refine' && searchContext) s = withKernelFiles(s, searchContext.sources, moduleKernelRoles('search'));
  return module === 'graph' ? s : withKernelFiles(s, files, moduleKernelRoles(module));
}

export const ops = {
  /**
   * Builds a graph index with a prune module and returns it (no GPU): the parent searches the
   * later stages on the best graph variant, whose code must run here, never in the parent.
   */
  async buildIndex(p: { knobs: Knobs; build: BuildPayload }): Promise<SearchableIndex> {
    // Imported here: the builder pulls in cli-progress, which only a graph child may read.
    const { buildIndex } = await import('../search/engine.ts');
    const b = p.build;
    // Never the shipped prune silently in place of the system's own.
    if (typeof b.pruneModule !== 'string') throw new Error('graph: the payload names no prune module');
    return (await buildIndex({ data: b.vectors, n: b.n, dim: b.dim }, b.metric, buildParamsFor(p.knobs), { quiet: true, pruneModule: b.pruneModule })).index;
  },

  async open(p: OpenPayload) {
    ctx = await openGpu({ adapter: p.adapter?.adapter, backend: p.adapter?.backend as 'vulkan' | undefined });
    let index = p.index;
    if (!index) throw new Error('open: the payload holds no index');
    // The parent sends an f32 index; the module's storage codec rounds it to the values it stores (f16).
    const codec = codecFor(storageOf(p.module, p.knobs));
    if (codec.name !== index.storage) index = { ...index, storage: codec.name, vectors: codec.round(index.vectors) };
    searcher = new GpuSearcher(ctx, index, sourcesFor(p.module, p.sources, p.searchContext));
    state = { module: p.module, knobs: p.knobs, dim: index.dim, searchKnobs: p.searchContext?.knobs };
    // Compile now (stage 'compile'), without running anything: the kernel every effort <= k shares.
    const rp = searcher.resolve(p.k, searchParamsFor(p.module, p.knobs, p.k, p.k, p.searchContext?.knobs));
    await kernelPipeline(ctx, searcher.beamKernel(rp));
    if (searcher.codec.needsRefine && rp.refine > 0) for (const k of searcher.refineKernels()) await kernelPipeline(ctx, k);
    if (p.filtered) {
      // The filtered beam (filter_labels.wgsl appended) and the exact path over passing rows (refine + select).
      if (!index.labels) throw new Error('open: a filtered evaluation without labels on the index');
      await kernelPipeline(ctx, searcher.beamKernel(rp, false, rp.filterTraversal));
      for (const k of searcher.refineKernels()) await kernelPipeline(ctx, k);
    }
    return { adapter: ctx.adapter.name };
  },

  /**
   * `countEvaluations` (untimed calls only: it runs the counting kernel) adds the mean distance
   * evaluations per query: the beam search's counter plus the exact distances of the refine pass.
   */
  /**
   * `drain` (the evaluator's timed calls): the queue is drained before and after the search, inside
   * the one call the parent times, so work left queued by earlier calls, or after this one, is paid
   * here and not in the other system's window; one round trip instead of three keeps the timing tight.
   */
  async search(p: { queries: Float32Array; dim: number; k: number; effort: number; countEvaluations?: boolean; drain?: boolean; filter?: FilterPayload }) {
    if (!searcher || !state || !ctx) throw new Error('open first');
    const n = p.queries.length / p.dim;
    const params = searchParamsFor(state.module, state.knobs, p.effort, p.k, state.searchKnobs);
    const filters = p.filter ? filtersOf(p.filter, n) : undefined;
    if (p.drain) await ops.drain();
    const q = { data: p.queries, n, dim: p.dim };
    const r: Neighbors & { evaluations?: Uint32Array } = filters
      ? await filteredSearch(searcher, q, p.k, params, filters)
      : await searcher.search(q, p.k, params, { countEvaluations: p.countEvaluations === true });
    if (p.drain) await ops.drain();
    if (!r.evaluations) return { ids: r.ids, distances: r.distances };
    const rp = searcher.resolve(p.k, params);
    const refine = searcher.codec.needsRefine && rp.refine > 0 ? rp.searchK : 0;
    return { ids: r.ids, distances: r.distances, evaluations: r.evaluations.reduce((a, b) => a + b, 0) / Math.max(1, n) + refine };
  },

  async drain() {
    if (!ctx) throw new Error('open first');
    await ctx.wait(ctx.device.queue.onSubmittedWorkDone(), 'drain the queue');
    return true;
  },
};
