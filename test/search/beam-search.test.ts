import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { buildIndex, gpuKnnProvider } from '../../src/search/engine.ts';
import { bruteForceKnn, normalizeRows } from '../../src/data/metric.ts';
import { loadDataset } from '../../src/data/resolve.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import { GpuSearcher, type SearchableIndex } from '../../src/search/gpu-search.ts';
import { cpuBeamSearch } from '../../src/search/cpu-search.ts';
import { buildEntryLayer } from '../../src/graph/entry-layer.ts';
import { grid2d } from '../../src/gpu/dispatch.ts';
import type { Metric, Neighbors, VectorSet } from '../../src/data/types.ts';
import type { SearchParams } from '../../src/search/params.ts';
import { openTestGpu, randomSet } from '../gpu/helpers.ts';
import { expectUserError } from '../data/helpers.ts';

// Each distinct itopk compiles a kernel; on lavapipe under load that alone can take a minute.
const SLOW = 600_000;
let ctx: GpuContext;
beforeAll(async () => {
  ctx = await openTestGpu();
});
afterAll(() => ctx?.destroy());

/** A plain exact kNN graph (no pruning) with an entry layer over 8 spread entry points: enough to test the search itself against oracles. */
async function knnGraphIndex(base: VectorSet, metric: Metric, degree: number, storage: 'f32' | 'f16' = 'f32'): Promise<SearchableIndex> {
  const neighbors = new Uint32Array(await gpuKnnProvider(ctx)(base, degree, metric));
  const entryPoints = new Uint32Array(Array.from({ length: 8 }, (_, i) => Math.floor((i * base.n) / 8)));
  const entryLayer = buildEntryLayer(base.data, base.n, base.dim, metric, entryPoints);
  return { metric, dim: base.dim, n: base.n, storage, vectors: base.data, graph: { degree, neighbors }, entryPoints, entryLayer };
}

/** Rows (queries) whose k ids differ between two results. */
function differingRows(a: Neighbors, b: Neighbors): number {
  let rows = 0;
  for (let q = 0; q < a.nq; q++) {
    for (let j = 0; j < a.k; j++) {
      if (a.ids[q * a.k + j] !== b.ids[q * b.k + j]) {
        rows++;
        break;
      }
    }
  }
  return rows;
}

describe('GPU beam search against the CPU reference and the shipped ground truth (siftsmall-5k)', () => {
  let sift: { base: VectorSet; queries: VectorSet; truth: { ids: Int32Array; nq: number; k: number }; index: SearchableIndex };
  let s: GpuSearcher;
  beforeAll(async () => {
    const ds = await loadDataset('siftsmall-5k');
    // One thread: the graph, and so every pinned recall below, is reproducible.
    const { index } = await buildIndex(ds.base, 'l2', { seed: 3, threads: 1 }, { quiet: true });
    sift = { base: ds.base, queries: ds.queries, truth: ds.groundTruth!, index };
    s = new GpuSearcher(ctx, sift.index);
  }, SLOW);
  afterAll(() => s?.destroy());
  const recall = (r: Neighbors) => recallAtK(r, sift.base, sift.queries, 'l2', sift.truth, 10).recall;

  // Every case: identical ids and identical distance-evaluation counts on GPU and CPU (the
  // kernel's visited hash never forgets at these sizes), and recall pinned near its measured value.
  // The capped cases stop mid-search, so a dropped final merge, an ignored searchWidth or a
  // mis-indexed entry layer changes the answer.
  // Measured on siftsmall-5k (CPU reference = GPU): 0.957, 1.000, 0.736, 0.802, 0.625, 0.997
  // (the entry layer built on the build's pool samples in its own numbering: before it 0.958,
  // 1.000, 0.717, 0.784, 0.622, 0.987). The capped cases run at itopk 10 (3 iterations never fill
  // a longer list: itopk 16 gives the same 0.802 and 0.625), so they reuse the first case's kernel:
  // each distinct itopk is a compile.
  const cases: { params: Partial<SearchParams>; floor: number; ceil?: number }[] = [
    { params: { itopk: 10 }, floor: 0.95 },
    { params: { itopk: 64 }, floor: 0.999 },
    { params: { itopk: 10, maxIterations: 4 }, floor: 0.72, ceil: 0.75 },
    { params: { itopk: 10, maxIterations: 3, searchWidth: 2, teamSize: 8 }, floor: 0.79, ceil: 0.815 },
    { params: { itopk: 10, maxIterations: 3 }, floor: 0.61, ceil: 0.64 },
    { params: { itopk: 32, numSeeds: 4, entryBeam: 8, entryIterations: 2 }, floor: 0.985 },
  ];
  for (const { params, floor, ceil } of cases) {
    it(`agrees exactly with the CPU reference at ${JSON.stringify(params)}, recall in [${floor}, ${ceil ?? 1}]`, async () => {
      const gpu = await s.search(sift.queries, 10, params, { countEvaluations: true });
      const cpu = cpuBeamSearch(sift.index, sift.queries, 10, params);
      expect(differingRows(gpu, cpu)).toBe(0);
      if (params.itopk! <= 32) {
        expect(Array.from(gpu.evaluations!)).toEqual(Array.from(cpu.evaluations));
      } else {
        // itopk 64 overfills the visited hash this adapter's workgroup memory allows (2,048 slots):
        // forgetting it costs a few repeated distances, never a different answer.
        const sum = (a: Uint32Array) => a.reduce((x, y) => x + y, 0);
        expect(sum(gpu.evaluations!)).toBeGreaterThanOrEqual(sum(cpu.evaluations));
        expect(sum(gpu.evaluations!)).toBeLessThanOrEqual(1.1 * sum(cpu.evaluations));
      }
      const r = recall(gpu);
      expect(r).toBeGreaterThanOrEqual(floor);
      expect(r).toBeLessThanOrEqual(ceil ?? 1);
    }, SLOW);
  }

  it('searchWidth 2 expands twice the parents per iteration: more recall at the same iteration cap', async () => {
    // The kernels of the pinned cases above (counting variant, already compiled).
    const one = recall(await s.search(sift.queries, 10, { itopk: 10, maxIterations: 3 }, { countEvaluations: true }));
    const two = recall(await s.search(sift.queries, 10, { itopk: 10, maxIterations: 3, searchWidth: 2, teamSize: 8 }, { countEvaluations: true }));
    expect(two).toBeGreaterThan(one + 0.05);
  }, SLOW);

  it('searches f16 storage and reranks with exact f32 distances: the CPU list reranked by (distance, id)', async () => {
    const f16 = new GpuSearcher(ctx, { ...sift.index, storage: 'f16' });
    try {
      // refine 20 (2k): the beam returns 20 candidates, refinement keeps the best 10.
      const res = await f16.search(sift.queries, 10, { itopk: 32 });
      const cpu = cpuBeamSearch(sift.index, sift.queries, 20, { itopk: 32 });
      expect(recall(res)).toBeGreaterThanOrEqual(0.985); // f32 at itopk 32: 0.997
      for (let q = 0; q < res.nq; q++) {
        const row = Array.from({ length: 20 }, (_, j) => ({ id: cpu.ids[q * 20 + j], d: cpu.distances![q * 20 + j] }));
        row.sort((a, b) => a.d - b.d || a.id - b.id);
        expect(Array.from(res.ids.subarray(q * 10, q * 10 + 10))).toEqual(row.slice(0, 10).map((x) => x.id));
      }
    } finally {
      f16.destroy();
    }
  }, SLOW);

  for (const metric of ['ip', 'angular'] as Metric[]) {
    it(`finds true neighbours for ${metric} with an awkward dimension (37)`, async () => {
      const base = randomSet(2000, 37, 5);
      const queries = randomSet(40, 37, 6);
      if (metric === 'angular') {
        normalizeRows(base, 'base');
        normalizeRows(queries, 'queries');
      }
      const index = await knnGraphIndex(base, metric, 24);
      const g = new GpuSearcher(ctx, index);
      try {
        const res = await g.search(queries, 10, { itopk: 128 });
        const truth = bruteForceKnn(base, queries, 10, metric);
        expect(recallAtK(res, base, queries, metric, truth, 10).recall).toBeGreaterThanOrEqual(0.97);
        expect(differingRows(res, cpuBeamSearch(index, queries, 10, { itopk: 128 }))).toBeLessThanOrEqual(1);
      } finally {
        g.destroy();
      }
    }, SLOW);
  }

  it('never returns duplicate or out-of-range ids, even with a tiny visited hash that forgets often', async () => {
    const res = await s.search(sift.queries, 10, { itopk: 16, hashBits: 6 });
    for (let q = 0; q < res.nq; q++) {
      const row = Array.from(res.ids.subarray(q * 10, q * 10 + 10));
      expect(new Set(row).size).toBe(10);
      for (const id of row) expect(id >= 0 && id < sift.base.n).toBe(true);
    }
    expect(recall(res)).toBeGreaterThanOrEqual(0.97); // measured 0.981 without forgetting
  }, SLOW);

  it('validates search params and k at the boundary', async () => {
    await expectUserError(s.search(sift.queries, 10, { itopk: 100000 }), 'itopk must be an integer in 1..512');
    await expectUserError(s.search(sift.queries, 10, { bogus: 1 } as never), "unknown field 'bogus'", 'allowed:');
    await expectUserError(s.search(sift.queries, 10, { workgroupSize: 64, teamSize: 48 }), 'multiple of teamSize');
    await expectUserError(s.search(sift.queries, 10, { itopk: 512, hashBits: 16 }), 'bytes of workgroup memory', String(ctx.limits.maxComputeWorkgroupStorageSize));
  }, SLOW);

  it('splits dispatches past the per-dimension workgroup limit', () => {
    const max = ctx.limits.maxComputeWorkgroupsPerDimension;
    const [gx, gy] = grid2d(ctx, 'test', max * 3 + 1, 64);
    expect(gx).toBe(max);
    expect(gy).toBe(4);
  });
});

describe('GPU beam search on clustered data (built index, entry layer)', () => {
  let ds: Awaited<ReturnType<typeof loadDataset>>;
  let index: SearchableIndex;
  let truth: Neighbors;
  beforeAll(async () => {
    // 100 Gaussian clusters: the graph has few edges between clusters, so the entry layer must
    // route each query to its own.
    ds = await loadDataset('synthetic-8k-d48-q100-c100');
    index = (await buildIndex(ds.base, ds.metric, { seed: 2, threads: 1 }, { quiet: true, storage: 'f16' })).index;
    truth = bruteForceKnn(ds.base, ds.queries, 10, ds.metric);
  }, SLOW);

  it('reaches its measured recall at low effort and agrees with the CPU reference', async () => {
    const s = new GpuSearcher(ctx, { ...index, storage: 'f32' });
    try {
      // Measured: 0.953 and 0.546 (3 iterations).
      for (const [params, floor, ceil] of [[{ itopk: 10 }, 0.945, 1], [{ itopk: 10, maxIterations: 3 }, 0.53, 0.56]] as const) {
        const gpu = await s.search(ds.queries, 10, params, { countEvaluations: true });
        const cpu = cpuBeamSearch(index, ds.queries, 10, params);
        expect(differingRows(gpu, cpu)).toBe(0);
        expect(Array.from(gpu.evaluations!)).toEqual(Array.from(cpu.evaluations));
        const r = recallAtK(gpu, ds.base, ds.queries, ds.metric, truth, 10).recall;
        expect(r).toBeGreaterThanOrEqual(floor);
        expect(r).toBeLessThanOrEqual(ceil);
      }
    } finally {
      s.destroy();
    }
  }, SLOW);

  it('gives the same answers when every kernel runs on a two-dimensional grid (workgroup_id.y)', async () => {
    // A view of the context whose per-dimension limit is 3: beam search, refine and top-k
    // selection all get grids with y > 1.
    const small = Object.create(ctx, { limits: { value: { ...ctx.adapter.limits, maxComputeWorkgroupsPerDimension: 3 } } }) as GpuContext;
    const a = new GpuSearcher(ctx, index);
    const b = new GpuSearcher(small, index);
    try {
      const params = { itopk: 32, refine: 64 };
      expect(grid2d(small, 'check', 50, 64)).toEqual([3, 17]);
      const ra = await a.search(ds.queries, 10, params);
      const rb = await b.search(ds.queries, 10, params);
      expect(Array.from(rb.ids)).toEqual(Array.from(ra.ids));
      expect(recallAtK(rb, ds.base, ds.queries, ds.metric, truth, 10).recall).toBeGreaterThanOrEqual(0.985); // measured 0.992 (f32, CPU)
    } finally {
      a.destroy();
      b.destroy();
    }
  }, SLOW);
});
