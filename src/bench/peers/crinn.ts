/**
 * This project's graph ANN as a bench system: CPU graph build (GPU exact kNN for the initial
 * graph on small sets), GPU beam search with effort = itopk.
 */
import type { Dataset, DatasetFilter, VectorSet } from '../../data/types.ts';
import { AnnEngine, buildIndexGraph, indexOnGraph } from '../../search/engine.ts';
import type { BuildResult } from '../../graph/build.ts';
import type { LabelSets } from '../../data/labels.ts';
import { MAX_ITOPK, effortParams, type SearchParams } from '../../search/params.ts';
import type { BuildParamsInput } from '../../graph/params.ts';
import type { VectorStorage } from '../../graph/index-file.ts';
import type { BenchSystem, SystemEnv, SystemOptions } from '../bench-system.ts';
import { datasetFingerprint } from '../../data/fingerprint.ts';
import path from 'node:path';
import { kernelStorage, type KernelBundle } from '../../search/kernel-params.ts';
import { codecFor, searchRowBytes } from '../../data/codecs/registry.ts';
import { beamBindingsNeeded } from '../../search/beam-core.ts';
import type { BindingLimits } from '../../search/base-binding.ts';
import { indexBytesPerVector, indexFileBytes } from '../../graph/index-format.ts';

export interface CrinnSystemOptions extends SystemOptions {
  build?: BuildParamsInput;
  search?: Partial<SearchParams>;
  /** Vector storage; default f16 (eight dimensions per load, f32 rerank), as CAGRA and GLASS search, or int8 where the device cannot bind f16 (defaultStorage); with kernels, the bundle's. */
  storage?: VectorStorage;
  /**
   * Tuned kernels (the `crinn-kernel` system): a bundle folder or a folder of bundles, picked for
   * the bench's adapter and dataset when the index is built (src/search/bundle.ts).
   */
  kernels?: string;
  /** Where the bundle loader's one-line notes go (the CLI: stderr). */
  onMessage?: (line: string) => void;
  /** The row's name (`crinn bench --storage f16,int8`: crinn-f16, crinn-int8); default crinn, or crinn-kernel with kernels. */
  name?: string;
}

/**
 * Graphs built in this process, by base rows, then metric, build params and bundle: the codec rows
 * of one run (`crinn bench --storage f32,f16,int8,binary`) search the same graph, built once; each
 * row trains only its codec. A build is a function of these alone (its seed is a param).
 */
const graphs = new WeakMap<Float32Array, Map<string, { res: Promise<BuildResult>; seconds: Promise<number> }>>();

function sharedGraph(ds: Dataset, params: BuildParamsInput, kernels: KernelBundle | undefined, build: () => Promise<BuildResult>): { res: Promise<BuildResult>; seconds: Promise<number> } {
  let byKey = graphs.get(ds.base.data);
  if (!byKey) graphs.set(ds.base.data, (byKey = new Map()));
  const key = JSON.stringify([ds.metric, params, kernels?.contentHash ?? null]);
  let hit = byKey.get(key);
  if (!hit) {
    const t0 = performance.now();
    const res = build();
    hit = { res, seconds: res.then(() => (performance.now() - t0) / 1000) };
    byKey.set(key, hit);
    // A failed build is not kept: the next row tries again and reports its own error.
    res.catch(() => byKey.delete(key));
  }
  return hit;
}

/**
 * The default storage: f16 (eight dimensions a load, f32 rerank), or int8 where the device cannot
 * bind f16 rows and the graph in one beam kernel (1M x 768 on a 16 x 128 MiB adapter), with a note.
 */
export function defaultStorage(limits: BindingLimits, base: VectorSet, degree: number, onMessage?: (line: string) => void): VectorStorage {
  const need = (name: VectorStorage) => beamBindingsNeeded(codecFor(name), base.n, base.dim, degree, limits);
  const have = limits.maxStorageBuffersPerShaderStage;
  if (need('f16') <= have || need('int8') > have) return 'f16';
  onMessage?.(`f16 rows of ${base.n} x ${base.dim} with a degree-${degree} graph need ${need('f16')} storage bindings on this adapter (maxStorageBuffersPerShaderStage ${have}); the row stores int8 (${need('int8')}), reranked in f32`);
  return 'int8';
}

export async function createCrinn(env: SystemEnv, o: CrinnSystemOptions): Promise<BenchSystem> {
  let engine: AnnEngine | undefined;
  const buildParams: BuildParamsInput = { ...(o.build ?? {}) };
  if (o.M) buildParams.graphDegree = o.M;
  if (o.threads) buildParams.threads = o.threads;
  if (o.seed !== undefined) buildParams.seed = o.seed;
  const searchParams = o.search ?? {};
  const params: Record<string, unknown> = { ...searchParams, storage: o.storage ?? 'f16', effort: 'itopk (>= k), else itopk = k and maxIterations = effort' };
  let kernels: KernelBundle | undefined;
  return {
    name: o.name ?? (o.kernels === undefined ? 'crinn' : 'crinn-kernel'),
    kind: 'gpu',
    params,
    filters: true,
    efforts: o.efforts ?? [4, 8, 16, 24, 32, 48, 64, 96],
    minEffort: o.minEffort ?? 1,
    maxEffort: Math.min(o.maxEffort ?? MAX_ITOPK, MAX_ITOPK),
    async build(ds: Dataset) {
      const ctx = await env.gpu();
      if (o.kernels !== undefined) {
        const { pickKernelBundle } = await import('../../search/bundle.ts');
        kernels = pickKernelBundle(o.kernels, ctx.adapter, { fingerprint: datasetFingerprint(ds), onMessage: o.onMessage });
        // No bundle for this adapter: the baseline kernels, as the library does (the loader wrote the
        // one-line note); the row records that no bundle ran, so its ratio to crinn reads as ~1.
        if (kernels) Object.assign(params, { bundle: kernels.name, bundleHash: kernels.contentHash, bundleDir: kernels.dir, bundleAdapter: kernels.adapter, storage: o.storage ?? kernelStorage(kernels) ?? 'f16' });
        else Object.assign(params, { bundle: null, bundleDir: path.resolve(o.kernels), bundleNote: `no kernel bundle for adapter '${ctx.adapter.name}'; the baseline kernels ran` });
      }
      const labels: LabelSets | undefined = ds.filter?.labels;
      const graph = sharedGraph(ds, buildParams, kernels, () => buildIndexGraph(ds.base, ds.metric, buildParams, { ctx, kernels, quiet: true }));
      const built = await graph.res;
      const storage = o.storage ?? (kernels && kernelStorage(kernels)) ?? defaultStorage(ctx.limits, ds.base, built.graph.degree, o.onMessage);
      params.storage = storage;
      // This row's own work starts once the graph is there (graph.seconds already counts the build).
      const t0 = performance.now();
      const index = indexOnGraph(ds.base, ds.metric, built, { storage, kernels, labels });
      const stats = built.stats;
      engine = new AnnEngine(ctx, index, { kernels });
      await ctx.idle('crinn upload');
      // What the index costs: bytes per vector the beam search reads (the codes), those the rerank reads (f32), the file's size.
      const codec = codecFor(index.storage);
      const searchBytes = searchRowBytes(codec, index.dim);
      const rerankBytes = codec.needsRefine ? Math.ceil(index.dim / 4) * 16 : 0;
      Object.assign(params, { bytesPerVector: searchBytes, rerankBytesPerVector: rerankBytes, indexBytes: indexFileBytes(index) });
      // Build time: the graph's (once per run, whichever row built it) plus this row's codec training and upload.
      const seconds = (await graph.seconds) + (performance.now() - t0) / 1000;
      return { seconds, params: { ...index.buildParams, storage: index.storage, phases: stats.phases, indexBytesPerVector: indexBytesPerVector(index) } as Record<string, unknown> };
    },
    async search(queries: VectorSet, k: number, effort: number, filter?: DatasetFilter) {
      if (!engine) throw new Error('crinn: search before build');
      return (await engine.search(queries, k, { ...searchParams, ...effortParams(effort, k), ...(filter ? { filter: filter.filters } : {}) })).ids;
    },
    async evaluations(queries: VectorSet, k: number, effort: number) {
      if (!engine) throw new Error('crinn: evaluations before build');
      return engine.evaluations(queries, k, { ...searchParams, ...effortParams(effort, k) });
    },
    async bytesRead(queries: VectorSet, k: number, effort: number) {
      if (!engine) throw new Error('crinn: bytesRead before build');
      return engine.work(queries, k, { ...searchParams, ...effortParams(effort, k) }).bytes;
    },
    async close() {
      engine?.destroy();
      engine = undefined;
    },
  };
}
