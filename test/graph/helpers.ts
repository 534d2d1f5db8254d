/** Test helpers for the graph build: a seeded Gaussian mixture and a tiny CPU beam search. */
import type { Metric, VectorSet } from '../../src/data/types.ts';
import { distance } from '../../src/data/metric.ts';
import { NO_NEIGHBOR, type Graph } from '../../src/graph/graph.ts';

/** mulberry32 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n points around `clusters` centres ~ N(0, 1), each point = centre + N(0, sigma^2) per coordinate. */
export function gaussianMixture(n: number, dim: number, clusters: number, sigma: number, seed: number): VectorSet {
  const r = rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const centres = new Float32Array(clusters * dim);
  for (let i = 0; i < centres.length; i++) centres[i] = gauss();
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * clusters);
    for (let j = 0; j < dim; j++) data[i * dim + j] = centres[c * dim + j] + sigma * gauss();
  }
  return { data, n, dim };
}

/**
 * Greedy best-first beam search (HNSW's search-layer): a sorted pool of `ef` candidates seeded with
 * the closest entry points, expand the nearest unexpanded until none is left; top k ids.
 */
export function beamSearch(
  base: VectorSet,
  graph: Graph,
  entry: Uint32Array,
  metric: Metric,
  query: Float32Array,
  k: number,
  ef: number,
): number[] {
  const { dim } = base;
  const visited = new Set<number>();
  const pool: { id: number; d: number; done: boolean }[] = [];
  const push = (id: number): void => {
    if (visited.has(id)) return;
    visited.add(id);
    const d = distance(metric, query, 0, base.data, id, dim);
    if (pool.length >= ef && d >= pool[pool.length - 1].d) return;
    let i = pool.length;
    while (i > 0 && pool[i - 1].d > d) i--;
    pool.splice(i, 0, { id, d, done: false });
    if (pool.length > ef) pool.pop();
  };
  // Seed from the 4 entry points nearest the query, as the GPU search does with its seed set.
  const seeds = Array.from(entry)
    .map((id) => ({ id, d: distance(metric, query, 0, base.data, id, dim) }))
    .sort((a, b) => a.d - b.d)
    .slice(0, 4);
  for (const s of seeds) push(s.id);
  for (;;) {
    const next = pool.find((c) => !c.done);
    if (!next) break;
    next.done = true;
    for (let j = 0; j < graph.degree; j++) {
      const v = graph.neighbors[next.id * graph.degree + j];
      if (v !== NO_NEIGHBOR) push(v);
    }
  }
  return pool.slice(0, k).map((c) => c.id);
}

/** Mean recall@k of `found` (per-query id lists) against exact ids (nq * k). */
export function recallAt(found: number[][], exact: Int32Array, k: number): number {
  let hit = 0;
  for (let q = 0; q < found.length; q++) {
    const truth = new Set(Array.from(exact.subarray(q * k, q * k + k)));
    for (const id of found[q].slice(0, k)) if (truth.has(id)) hit++;
  }
  return hit / (found.length * k);
}
