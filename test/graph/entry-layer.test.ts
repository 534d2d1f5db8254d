import { describe, expect, it } from 'vitest';
import { buildEntryLayer, checkEntryLayer, entryLayerShape, flatEntryLayer } from '../../src/graph/entry-layer.ts';
import { buildIndex } from '../../src/search/engine.ts';
import { cpuBeamSearch } from '../../src/search/cpu-search.ts';
import { loadDataset } from '../../src/data/resolve.ts';
import { bruteForceKnn, distance } from '../../src/data/metric.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import { NO_NEIGHBOR } from '../../src/graph/graph.ts';
import { gaussianMixture } from './helpers.ts';
import { buildEntryLayerOnPool } from '../../src/graph/entry-layer-ops.ts';
import { createArena } from '../../src/graph/arena.ts';
import { WorkerPool } from '../../src/graph/pool.ts';

describe('entry layer (sampled upper graph)', () => {
  const base = gaussianMixture(5000, 16, 40, 0.05, 3);
  const entryPoints = new Uint32Array([17, 4000, 256, 3333]);
  const layer = buildEntryLayer(base.data, base.n, base.dim, 'l2', entryPoints, { seed: 5 });
  const m = layer.ids.length;

  it('samples 2% of the base, entry points first, distinct ids in range', () => {
    expect(m).toBe(100);
    expect(Array.from(layer.ids.subarray(0, 4))).toEqual(Array.from(entryPoints));
    expect(new Set(layer.ids).size).toBe(m);
    expect(checkEntryLayer(layer, base.n)).toBeNull();
    expect(layer.degree).toBe(32);
  });

  it('keeps the heuristic\'s picks among each node\'s 64 nearest sample nodes: the nearest first, none dominated, no self loops', () => {
    const d = (a: number, b: number) => distance('l2', base.data, layer.ids[a], base.data, layer.ids[b], 16);
    for (let a = 0; a < m; a++) {
      const cands = Array.from({ length: m }, (_, b) => b)
        .filter((b) => b !== a)
        .sort((x, y) => d(a, x) - d(a, y))
        .slice(0, 64);
      // DiskANN RobustPrune / HNSW heuristic, alpha 1.2 on distances (1.44 on squared L2), at most 16 kept.
      const kept: number[] = [];
      for (const c of cands) if (kept.length < 16 && kept.every((s) => 1.44 * d(s, c) > d(a, c))) kept.push(c);
      const row = Array.from(layer.neighbors.subarray(a * 32, a * 32 + 32));
      expect(row).not.toContain(a);
      expect(row[0]).toBe(cands[0]);
      // Rows that lost a slot to a bridge still hold all but one.
      expect(kept.filter((b) => !row.includes(b)).length).toBeLessThanOrEqual(1);
    }
  });

  it('is symmetric where rows have room, and every node is reachable from node 0 (separated clusters bridged)', () => {
    let asym = 0;
    for (let a = 0; a < m; a++) {
      for (let j = 0; j < 32; j++) {
        const b = layer.neighbors[a * 32 + j];
        if (b === NO_NEIGHBOR) continue;
        if (!layer.neighbors.subarray(b * 32, b * 32 + 32).includes(a)) asym++;
      }
    }
    // Only where a full row (a hub's) had no room for a reverse edge: measured 126 of ~2,500 edges.
    expect(asym).toBeLessThanOrEqual(150);
    const seen = new Set([0]);
    const queue = [0];
    while (queue.length) {
      const x = queue.pop()!;
      for (const y of layer.neighbors.subarray(x * 32, x * 32 + 32)) if (y !== NO_NEIGHBOR && !seen.has(y)) { seen.add(y); queue.push(y); }
    }
    expect(seen.size).toBe(m);
  });

  it('bridges well-separated blobs, whose 16-NN graphs never meet', () => {
    const two = gaussianMixture(4000, 8, 1, 1, 9);
    for (let i = 2000; i < 4000; i++) two.data[i * 8] += 1000; // the second half far away
    const l = buildEntryLayer(two.data, two.n, 8, 'l2', new Uint32Array([0]), { seed: 2 });
    const seen = new Set([0]);
    const queue = [0];
    while (queue.length) {
      const x = queue.pop()!;
      for (const y of l.neighbors.subarray(x * l.degree, (x + 1) * l.degree)) if (y !== NO_NEIGHBOR && !seen.has(y)) { seen.add(y); queue.push(y); }
    }
    expect(seen.size).toBe(l.ids.length);
  });

  it('is deterministic for a seed and covers tiny bases whole', () => {
    const again = buildEntryLayer(base.data, base.n, base.dim, 'l2', entryPoints, { seed: 5 });
    expect(Buffer.from(again.neighbors.buffer).equals(Buffer.from(layer.neighbors.buffer))).toBe(true);
    const tiny = buildEntryLayer(base.data, 3, 16, 'l2', new Uint32Array([1]));
    expect(Array.from(tiny.ids).sort()).toEqual([0, 1, 2]);
    expect(tiny.degree).toBe(2);
  });

  it('follows the main graph\'s degree between 32 and 64, half of it forward edges', () => {
    expect(entryLayerShape(16)).toEqual({ degree: 32, k: 16 });
    expect(entryLayerShape(32)).toEqual({ degree: 32, k: 16 });
    expect(entryLayerShape(64)).toEqual({ degree: 64, k: 32 });
    expect(entryLayerShape(128)).toEqual({ degree: 64, k: 32 });
  });

  it('the build pool\'s SIMD version (two threads, rows from a shared cursor) gives the single-thread layer, for l2 and ip', async () => {
    for (const metric of ['l2', 'ip'] as const) {
      const arena = createArena(base.data, base.n, base.dim, metric === 'l2', 2);
      const pool = await WorkerPool.create(arena, 2);
      try {
        const pooled = await buildEntryLayerOnPool(pool, new Float32Array(arena.memory.buffer), base.n, base.dim, base.dim, metric, entryPoints, { seed: 5 });
        const plain = buildEntryLayer(base.data, base.n, base.dim, metric, entryPoints, { seed: 5 });
        expect(Array.from(pooled.ids)).toEqual(Array.from(plain.ids));
        expect(pooled.degree).toBe(plain.degree);
        // f32 SIMD sums against f64 scalar ones: a near tie may flip one edge; measured 100% equal.
        let same = 0;
        for (let a = 0; a < m; a++) {
          const row = new Set(plain.neighbors.subarray(a * 32, a * 32 + 32));
          for (const b of pooled.neighbors.subarray(a * 32, a * 32 + 32)) if (row.has(b)) same++;
        }
        const edges = pooled.neighbors.filter((b) => b !== NO_NEIGHBOR).length;
        expect(edges).toBe(plain.neighbors.filter((b) => b !== NO_NEIGHBOR).length);
        expect(same / edges).toBeGreaterThanOrEqual(0.99);
      } finally {
        await pool.close();
      }
    }
  });

  it('reports out-of-range ids and edges', () => {
    expect(checkEntryLayer({ ids: new Uint32Array([0, 9]), degree: 1, neighbors: new Uint32Array([1, NO_NEIGHBOR]) }, 5)).toMatch(/node 1: id 9 >= n = 5/);
    expect(checkEntryLayer({ ids: new Uint32Array([0, 1]), degree: 1, neighbors: new Uint32Array([2, 0]) }, 5)).toMatch(/edge 0: 2 >= 2 nodes/);
    expect(checkEntryLayer(flatEntryLayer(new Uint32Array([4])), 5)).toBeNull();
  });
});

describe('search through the entry layer on clustered data (CPU reference)', () => {
  it('reaches the query\'s cluster: far better than its first 16 nodes alone, cheaper than scoring the whole sample', async () => {
    // 20k x 128 in 141 clusters: the kNN graph barely crosses clusters.
    const ds = await loadDataset('synthetic-20k', { queries: 100 });
    const { index } = await buildIndex(ds.base, ds.metric, { seed: 1, threads: 1 }, { quiet: true });
    const truth = bruteForceKnn(ds.base, ds.queries, 10, ds.metric);
    const flat = { ...index, entryLayer: flatEntryLayer(index.entryLayer.ids) };
    const run = (idx: typeof index, numSeeds?: number) => {
      const r = cpuBeamSearch(idx, ds.queries, 10, { itopk: 16, ...(numSeeds ? { numSeeds } : {}) });
      return { recall: recallAtK(r, ds.base, ds.queries, ds.metric, truth, 10).recall, evals: r.evaluations.reduce((a, b) => a + b, 0) / r.nq };
    };
    // Measured: layer 0.927 / 414 evaluations (the 16-NN layer: 0.927 / 420); first 16 only 0.737; all 400 sample nodes 0.937 / 640.
    const layer = run(index);
    const first16 = run(flat);
    const whole = run(flat, 4096);
    expect(layer.recall).toBeGreaterThanOrEqual(0.92);
    expect(layer.recall).toBeGreaterThan(first16.recall + 0.15);
    expect(layer.evals).toBeLessThanOrEqual(430);
    expect(layer.evals).toBeLessThan(0.75 * whole.evals);
    expect(whole.recall - layer.recall).toBeLessThan(0.02);
  }, 300_000);
});
