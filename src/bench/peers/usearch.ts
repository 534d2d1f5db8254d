/**
 * usearch HNSW as a bench peer: parallel build, batched search on all cores, effort =
 * expansion_search. The JS binding fixes expansion_search at construction and exposes no setter,
 * so the built index is saved once and re-opened (memory-mapped `view`, no copy) per effort; the
 * harness's warm-up call absorbs that reopening.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Dataset, Metric, VectorSet } from '../../data/types.ts';
import { effortRange, emptyIds, importPeer, intOption, packageVersion, type BenchSystem, type SystemEnv, type SystemOptions } from '../bench-system.ts';

/** The slice of the usearch API used here (typed locally: the package is optional). */
interface UsearchMatches {
  keys: BigUint64Array;
  distances: Float32Array;
  counts?: BigUint64Array;
}
interface UsearchIndex {
  add(keys: BigUint64Array, vectors: Float32Array, threads?: number): void;
  search(vectors: Float32Array, k: number, threads?: number): UsearchMatches;
  save(path: string): void;
  view(path: string): void;
  size(): number;
}
interface UsearchConfig {
  dimensions: number;
  metric: string;
  quantization?: string;
  connectivity?: number;
  expansion_add?: number;
  expansion_search?: number;
}
export interface UsearchModule {
  Index: new (config: UsearchConfig) => UsearchIndex;
  exactSearch(dataset: Float32Array, queries: Float32Array, dimensions: number, count: number, metric: string, threads?: number): UsearchMatches;
}

/**
 * Metric names in usearch. Angular data is L2-normalised at load (src/data/resolve.ts), so inner
 * product ranks exactly like cosine and skips the norms (the ann-benchmarks convention).
 */
export function usearchMetric(metric: Metric): 'l2sq' | 'ip' {
  return metric === 'l2' ? 'l2sq' : 'ip';
}

export async function loadUsearch(): Promise<UsearchModule> {
  const mod = await importPeer<{ default?: UsearchModule } & Partial<UsearchModule>>('usearch');
  return (mod.default ?? mod) as UsearchModule;
}

/**
 * usearch reads a typed array from its buffer's start and ignores byteOffset (REFERENCES.md), so
 * anything that is not a whole buffer is copied first.
 */
export function wholeBuffer(a: Float32Array): Float32Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}

/** Converts usearch's (keys, counts) rows into nq * k Int32 ids. */
export function matchesToIds(m: UsearchMatches, nq: number, k: number): Int32Array {
  const ids = emptyIds(nq, k);
  for (let q = 0; q < nq; q++) {
    const count = m.counts ? Number(m.counts[q]) : Math.min(k, m.keys.length);
    for (let j = 0; j < Math.min(count, k); j++) ids[q * k + j] = Number(m.keys[q * k + j]);
  }
  return ids;
}

export const USEARCH_DEFAULTS = { M: 16, efConstruction: 200, efforts: [10, 16, 24, 32, 48, 64, 96, 128, 192, 256], minEffort: 1, maxEffort: 4096 };

export async function createUsearch(_env: SystemEnv, o: SystemOptions): Promise<BenchSystem> {
  const usearch = await loadUsearch();
  const M = intOption('usearch', 'M', o.M, USEARCH_DEFAULTS.M);
  const efConstruction = intOption('usearch', 'efConstruction', o.efConstruction, USEARCH_DEFAULTS.efConstruction);
  const threads = intOption('usearch', 'threads', o.threads, os.availableParallelism());
  const range = effortRange('usearch', o, USEARCH_DEFAULTS);
  let dir: string | undefined;
  let file: string | undefined;
  let config: UsearchConfig | undefined;
  let current: { effort: number; index: UsearchIndex } | undefined;

  const system: BenchSystem = {
    name: 'usearch',
    kind: 'cpu-peer',
    params: { threads, quantization: 'f32', effort: 'expansion_search' },
    ...range,
    effortAtLeastK: true,
    versions: { usearch: packageVersion('usearch') ?? 'unknown' },
    async build(ds: Dataset) {
      const metric = usearchMetric(ds.metric);
      config = { dimensions: ds.base.dim, metric, quantization: 'f32', connectivity: M, expansion_add: efConstruction, expansion_search: 64 };
      const index = new usearch.Index(config);
      const keys = new BigUint64Array(ds.base.n);
      for (let i = 0; i < ds.base.n; i++) keys[i] = BigInt(i);
      const t0 = performance.now();
      index.add(keys, wholeBuffer(ds.base.data), threads);
      const seconds = (performance.now() - t0) / 1000;
      dir = await mkdtemp(path.join(os.tmpdir(), 'crinn-usearch-'));
      file = path.join(dir, 'index.usearch');
      index.save(file);
      system.params.metric = metric;
      return { seconds, params: { M, efConstruction, metric, threads } };
    },
    async search(queries: VectorSet, k: number, effort: number) {
      if (!config || !file) throw new Error('usearch: search before build');
      if (current?.effort !== effort) {
        const index = new usearch.Index({ ...config, expansion_search: effort });
        index.view(file);
        current = { effort, index };
      }
      return matchesToIds(current.index.search(wholeBuffer(queries.data), k, threads), queries.n, k);
    },
    async close() {
      current = undefined;
      if (dir) await rm(dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
  return system;
}
