/**
 * hnswlib-node HNSW as a bench peer, effort = ef. The binding takes `number[]` vectors, builds on
 * one thread and answers one query per call, so the batch is a loop over queries on one thread
 * (recorded as threads: 1 so tables are read fairly against multi-threaded peers).
 */
import type { Dataset, DatasetFilter, Metric, VectorSet } from '../../data/types.ts';
import { passesFilter } from '../../data/filter.ts';
import { effortRange, emptyIds, importPeer, intOption, packageVersion, type BenchSystem, type SystemEnv, type SystemOptions } from '../bench-system.ts';

/** The slice of the hnswlib-node API used here (typed locally: the package is optional). */
interface HnswIndex {
  initIndex(opts: { maxElements: number; m?: number; efConstruction?: number; randomSeed?: number }): void;
  addPoint(point: number[], label: number): void;
  setEf(ef: number): void;
  /** `filter`: hnswlib's per-query predicate on labels (here: base ids), called for each candidate it would return. */
  searchKnn(query: number[], k: number, filter?: (label: number) => boolean): { distances: number[]; neighbors: number[] };
}
export interface HnswlibModule {
  HierarchicalNSW: new (space: 'l2' | 'ip' | 'cosine', dim: number) => HnswIndex;
}

/** Angular rows are L2-normalised at load, so 'ip' (1 - dot) ranks exactly like 'cosine' without renormalising every query. */
export function hnswSpace(metric: Metric): 'l2' | 'ip' {
  return metric === 'l2' ? 'l2' : 'ip';
}

export async function loadHnswlib(): Promise<HnswlibModule> {
  const mod = await importPeer<{ default?: HnswlibModule } & Partial<HnswlibModule>>('hnswlib-node');
  return (mod.default ?? mod) as HnswlibModule;
}

function row(set: VectorSet, i: number): number[] {
  return Array.from(set.data.subarray(i * set.dim, (i + 1) * set.dim));
}

export const HNSWLIB_DEFAULTS = { M: 16, efConstruction: 200, efforts: [10, 16, 24, 32, 48, 64, 96, 128, 192, 256], minEffort: 1, maxEffort: 4096 };

export async function createHnswlib(_env: SystemEnv, o: SystemOptions): Promise<BenchSystem> {
  const hnswlib = await loadHnswlib();
  const M = intOption('hnswlib', 'M', o.M, HNSWLIB_DEFAULTS.M);
  const efConstruction = intOption('hnswlib', 'efConstruction', o.efConstruction, HNSWLIB_DEFAULTS.efConstruction);
  const seed = o.seed ?? 100;
  const range = effortRange('hnswlib', o, HNSWLIB_DEFAULTS);
  let index: HnswIndex | undefined;

  return {
    name: 'hnswlib',
    kind: 'cpu-peer',
    params: { threads: 1, effort: 'ef' },
    ...range,
    effortAtLeastK: true,
    filters: true,
    versions: { 'hnswlib-node': packageVersion('hnswlib-node') ?? 'unknown' },
    async build(ds: Dataset) {
      const space = hnswSpace(ds.metric);
      const idx = new hnswlib.HierarchicalNSW(space, ds.base.dim);
      idx.initIndex({ maxElements: ds.base.n, m: M, efConstruction, randomSeed: seed });
      const t0 = performance.now();
      for (let i = 0; i < ds.base.n; i++) idx.addPoint(row(ds.base, i), i);
      const seconds = (performance.now() - t0) / 1000;
      index = idx;
      return { seconds, params: { M, efConstruction, space, seed, threads: 1 } };
    },
    async search(queries: VectorSet, k: number, effort: number, filter?: DatasetFilter) {
      if (!index) throw new Error('hnswlib: search before build');
      index.setEf(effort);
      const ids = emptyIds(queries.n, k);
      for (let q = 0; q < queries.n; q++) {
        const f = filter?.filters[q];
        // The same filters as crinn, as hnswlib's own filter callback (labels are the base ids here).
        const { neighbors } = f ? index.searchKnn(row(queries, q), k, (id) => passesFilter(f, filter!.labels, id)) : index.searchKnn(row(queries, q), k);
        for (let j = 0; j < Math.min(k, neighbors.length); j++) ids[q * k + j] = neighbors[j];
      }
      return ids;
    },
    async close() {
      index = undefined;
    },
  };
}
