import { describe, expect, it } from 'vitest';
import type { Metric, VectorSet } from '../../src/data/types.ts';
import { bruteForceKnn, normalizeRows } from '../../src/data/metric.ts';
import { checkEntryLayer } from '../../src/graph/entry-layer.ts';
import { UserError } from '../../src/errors.ts';
import { buildGraph, type KnnProvider } from '../../src/graph/build.ts';
import { checkGraph, type Graph } from '../../src/graph/graph.ts';
import { beamSearch, gaussianMixture, recallAt } from './helpers.ts';

const N = 5000;
const DIM = 32;
const all = gaussianMixture(N + 200, DIM, 20, 0.5, 3);
const base: VectorSet = { data: all.data.slice(0, N * DIM), n: N, dim: DIM };
const queries: VectorSet = { data: all.data.slice(N * DIM), n: 200, dim: DIM };

function searchRecall(b: VectorSet, q: VectorSet, graph: Graph, entry: Uint32Array, metric: Metric, ef: number): number {
  const exact = bruteForceKnn(b, q, 10, metric);
  const found: number[][] = [];
  for (let i = 0; i < q.n; i++) found.push(beamSearch(b, graph, entry, metric, q.data.subarray(i * b.dim, (i + 1) * b.dim), 10, ef));
  return recallAt(found, exact.ids, 10);
}

/** Nodes reachable from the entry points. */
function reachable(graph: Graph, entry: Uint32Array): number {
  const seen = new Uint8Array(graph.n);
  const queue = Array.from(entry);
  for (const e of queue) seen[e] = 1;
  for (let h = 0; h < queue.length; h++) {
    for (let j = 0; j < graph.degree; j++) {
      const v = graph.neighbors[queue[h] * graph.degree + j];
      if (v < graph.n && !seen[v]) {
        seen[v] = 1;
        queue.push(v);
      }
    }
  }
  return queue.length;
}

function expectWellFormed(graph: Graph, degree: number, entry?: Uint32Array): void {
  if (entry) expect(reachable(graph, entry)).toBe(graph.n);
  const c = checkGraph(graph);
  expect(graph.degree).toBe(degree);
  expect(c.minDegree).toBe(degree);
  expect(c.maxDegree).toBe(degree);
  expect(c.selfLoops).toBe(0);
  expect(c.duplicates).toBe(0);
  expect(c.outOfRange).toBe(0);
  expect(c.holes).toBe(0);
}

describe('buildGraph', () => {
  for (const algorithm of ['cagra', 'vamana'] as const) {
    it(`${algorithm}: full rows, distinct neighbours, recall@10 >= 0.95 at ef = 64`, async () => {
      const res = await buildGraph(base, 'l2', { algorithm, threads: 1, seed: 9 }, { quiet: true });
      expectWellFormed(res.graph, 32, res.entryPoints);
      expect(res.entryPoints.length).toBe(res.params.numEntryPoints);
      expect(new Set(res.entryPoints).size).toBe(res.entryPoints.length);
      expect(searchRecall(base, queries, res.graph, res.entryPoints, 'l2', 64)).toBeGreaterThanOrEqual(0.95);
      expect(res.stats.seconds).toBeGreaterThan(0);
    });

    it(`${algorithm}: deterministic for a fixed seed on one thread`, async () => {
      const small: VectorSet = { data: base.data.subarray(0, 2000 * DIM), n: 2000, dim: DIM };
      const a = await buildGraph(small, 'l2', { algorithm, threads: 1, seed: 4 }, { quiet: true });
      const b = await buildGraph(small, 'l2', { algorithm, threads: 1, seed: 4 }, { quiet: true });
      expect(Buffer.from(a.graph.neighbors.buffer).equals(Buffer.from(b.graph.neighbors.buffer))).toBe(true);
      expect(Array.from(a.entryPoints)).toEqual(Array.from(b.entryPoints));
      // The entry layer: entry points first, ids in range, and reproducible too.
      expect(checkEntryLayer(a.entryLayer, 2000)).toBeNull();
      expect(Array.from(a.entryLayer.ids.subarray(0, a.entryPoints.length))).toEqual(Array.from(a.entryPoints));
      expect(Buffer.from(a.entryLayer.neighbors.buffer).equals(Buffer.from(b.entryLayer.neighbors.buffer))).toBe(true);
    });
  }

  it('builds with two worker threads', async () => {
    const progress: number[] = [];
    const res = await buildGraph(base, 'l2', { threads: 2 }, { quiet: true, onProgress: (p) => progress.push(p.fraction) });
    expect(res.stats.threads).toBe(2);
    expectWellFormed(res.graph, 32, res.entryPoints);
    expect(searchRecall(base, queries, res.graph, res.entryPoints, 'l2', 64)).toBeGreaterThanOrEqual(0.95);
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= progress[i - 1]))).toBe(true);
    expect(progress[progress.length - 1]).toBe(1);
  });

  it('vamana gives the same graph on one and two threads', async () => {
    const a = await buildGraph(base, 'l2', { algorithm: 'vamana', threads: 1, seed: 2 }, { quiet: true });
    const b = await buildGraph(base, 'l2', { algorithm: 'vamana', threads: 2, seed: 2 }, { quiet: true });
    expect(b.stats.threads).toBe(2);
    expect(Buffer.from(a.graph.neighbors.buffer).equals(Buffer.from(b.graph.neighbors.buffer))).toBe(true);
  });

  it('vamana with R below graphDegree pads the rows', async () => {
    const small: VectorSet = { data: base.data.subarray(0, 2000 * DIM), n: 2000, dim: DIM };
    const res = await buildGraph(small, 'l2', { algorithm: 'vamana', threads: 1, vamana: { R: 16 } }, { quiet: true });
    const c = checkGraph(res.graph);
    expect(res.graph.degree).toBe(32);
    expect(c.minDegree).toBeGreaterThanOrEqual(16);
    expect(c.maxDegree).toBeLessThanOrEqual(17); // 16 plus, rarely, one bridge
    expect([c.selfLoops, c.duplicates, c.outOfRange, c.holes]).toEqual([0, 0, 0, 0]);
  });

  it('reaches every node on well-separated clusters', async () => {
    // 20 tight clusters of ~200 far apart: kNN lists never leave a cluster, 4 entry points.
    const sep = gaussianMixture(4000, 16, 20, 0.02, 21);
    const res = await buildGraph(sep, 'l2', { threads: 1, numEntryPoints: 4 }, { quiet: true });
    expectWellFormed(res.graph, 32, res.entryPoints);
    expect(res.stats.bridges).toBeGreaterThan(0);
    expect(res.stats.unreachable).toBe(0);
  });

  it('uses an injected exact-kNN provider', async () => {
    let calls = 0;
    const provider: KnnProvider = async (b, k, metric) => {
      calls++;
      expect(metric).toBe('l2');
      // Brute force, itself excluded, ties by smaller id.
      const out = new Int32Array(b.n * k);
      const d = new Float64Array(b.n);
      const order = new Int32Array(b.n);
      for (let i = 0; i < b.n; i++) {
        for (let j = 0; j < b.n; j++) {
          let s = 0;
          for (let t = 0; t < DIM; t++) {
            const x = b.data[i * DIM + t] - b.data[j * DIM + t];
            s += x * x;
          }
          d[j] = j === i ? Infinity : s;
          order[j] = j;
        }
        order.sort((x, y) => d[x] - d[y] || x - y);
        out.set(order.subarray(0, k), i * k);
      }
      return out;
    };
    const small: VectorSet = { data: base.data.subarray(0, 1500 * DIM), n: 1500, dim: DIM };
    const res = await buildGraph(small, 'l2', { threads: 1, graphDegree: 16 }, { knn: provider, quiet: true });
    expect(calls).toBe(1);
    expect(res.params.knn).toBe('exact');
    expectWellFormed(res.graph, 16);
    expect(searchRecall(small, queries, res.graph, res.entryPoints, 'l2', 64)).toBeGreaterThanOrEqual(0.95);
  });

  it('builds angular data with the CPU exact kNN', async () => {
    const b: VectorSet = { data: base.data.slice(0, 2000 * DIM), n: 2000, dim: DIM };
    const q: VectorSet = { data: queries.data.slice(), n: queries.n, dim: DIM };
    normalizeRows(b, 'base');
    normalizeRows(q, 'queries');
    const res = await buildGraph(b, 'angular', { knn: 'exact', threads: 1 }, { quiet: true });
    expectWellFormed(res.graph, 32);
    expect(searchRecall(b, q, res.graph, res.entryPoints, 'angular', 64)).toBeGreaterThanOrEqual(0.95);
  });

  it('handles bases smaller than the degree', async () => {
    const tiny: VectorSet = { data: base.data.subarray(0, 5 * DIM), n: 5, dim: DIM };
    const res = await buildGraph(tiny, 'l2', {}, { quiet: true });
    expectWellFormed(res.graph, 4);
    const one = await buildGraph({ data: base.data.subarray(0, DIM), n: 1, dim: DIM }, 'l2', {}, { quiet: true });
    expect(Array.from(one.entryPoints)).toEqual([0]);
    expect(Array.from(res.entryLayer.ids).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(one.entryLayer.ids)).toEqual([0]);
  });

  it('rejects bad input with a UserError', async () => {
    await expect(buildGraph({ data: new Float32Array(10), n: 5, dim: 4 }, 'l2')).rejects.toThrow(UserError);
    await expect(buildGraph(base, 'l2', { graphDegree: 500 })).rejects.toThrow(/graphDegree/);
  });

  it('a failing kNN provider rejects the build and releases the workers', async () => {
    const provider: KnnProvider = async () => {
      throw new Error('gpu lost');
    };
    await expect(buildGraph(base, 'l2', { threads: 2, knn: 'exact' }, { knn: provider, quiet: true })).rejects.toThrow('gpu lost');
  });
});
