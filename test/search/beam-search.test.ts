import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { GpuContext } from '../../src/gpu/device.ts';
import { gpuKnnProvider } from '../../src/search/engine.ts';
import { bruteForceKnn, normalizeRows } from '../../src/data/metric.ts';
import { readFvecs, readIvecs } from '../../src/data/vecs.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import { GpuSearcher, type SearchableIndex } from '../../src/search/gpu-search.ts';
import { cpuBeamSearch } from '../../src/search/cpu-search.ts';
import { grid2d } from '../../src/gpu/dispatch.ts';
import type { Metric, VectorSet } from '../../src/data/types.ts';
import { openTestGpu, randomSet } from '../gpu/helpers.ts';
import { sharedData, expectUserError } from '../data/helpers.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await openTestGpu();
});
afterAll(() => ctx?.destroy());

/** A plain exact kNN graph (no pruning): enough to test the search itself against oracles. */
async function knnGraphIndex(base: VectorSet, metric: Metric, degree: number, storage: 'f32' | 'f16' = 'f32'): Promise<SearchableIndex> {
  const neighbors = new Uint32Array(await gpuKnnProvider(ctx)(base, degree, metric));
  const entryPoints = new Uint32Array(Array.from({ length: 8 }, (_, i) => Math.floor((i * base.n) / 8)));
  return { metric, dim: base.dim, n: base.n, storage, vectors: base.data, graph: { degree, neighbors }, entryPoints };
}

describe('GPU beam search', () => {
  let sift: { base: VectorSet; queries: VectorSet; truth: { ids: Int32Array; nq: number; k: number }; index: SearchableIndex };
  beforeAll(async () => {
    const dir = path.join(sharedData, 'siftsmall');
    const base = await readFvecs(path.join(dir, 'siftsmall_base.fvecs'));
    const queries = await readFvecs(path.join(dir, 'siftsmall_query.fvecs'));
    const gt = await readIvecs(path.join(dir, 'siftsmall_groundtruth.ivecs'));
    sift = { base, queries, truth: { ids: gt.data, nq: gt.n, k: gt.dim }, index: await knnGraphIndex(base, 'l2', 32) };
  });

  it('reaches recall@10 >= 0.95 on siftsmall against the official ground truth, and recall rises with itopk', async () => {
    const s = new GpuSearcher(ctx, sift.index);
    try {
      const recalls: number[] = [];
      for (const itopk of [16, 64]) {
        const res = await s.search(sift.queries, 10, { itopk });
        recalls.push(recallAtK(res, sift.base, sift.queries, 'l2', sift.truth, 10).recall);
      }
      expect(recalls[1]).toBeGreaterThanOrEqual(0.95);
      expect(recalls[1]).toBeGreaterThan(recalls[0]);
    } finally {
      s.destroy();
    }
  });

  it('agrees with the CPU reference search on the same graph', async () => {
    const s = new GpuSearcher(ctx, sift.index);
    try {
      for (const params of [{ itopk: 32 }, { itopk: 64, searchWidth: 2, teamSize: 8 }]) {
        const gpu = await s.search(sift.queries, 10, params);
        const cpu = cpuBeamSearch(sift.index, sift.queries, 10, params);
        const rg = recallAtK(gpu, sift.base, sift.queries, 'l2', sift.truth, 10).recall;
        const rc = recallAtK(cpu, sift.base, sift.queries, 'l2', sift.truth, 10).recall;
        expect(Math.abs(rg - rc)).toBeLessThanOrEqual(0.01);
        let same = 0;
        for (let i = 0; i < gpu.ids.length; i++) if (gpu.ids[i] === cpu.ids[i]) same++;
        expect(same / gpu.ids.length).toBeGreaterThan(0.97);
      }
    } finally {
      s.destroy();
    }
  });

  it('searches f16 storage and reranks with exact f32 distances', async () => {
    const s = new GpuSearcher(ctx, { ...sift.index, storage: 'f16' });
    try {
      const res = await s.search(sift.queries, 10, { itopk: 64 });
      expect(recallAtK(res, sift.base, sift.queries, 'l2', sift.truth, 10).recall).toBeGreaterThanOrEqual(0.95);
      // Returned distances are the exact f32 ones after refinement.
      const cpu = bruteForceKnn(sift.base, { ...sift.queries, n: 1, data: sift.queries.data.subarray(0, 128) }, 1, 'l2');
      if (res.ids[0] === cpu.ids[0]) expect(res.distances![0]).toBeCloseTo(cpu.distances![0], 0);
    } finally {
      s.destroy();
    }
  });

  for (const metric of ['ip', 'angular'] as Metric[]) {
    it(`finds true neighbours for ${metric} with an awkward dimension (37)`, async () => {
      const base = randomSet(2000, 37, 5);
      const queries = randomSet(40, 37, 6);
      if (metric === 'angular') {
        normalizeRows(base, 'base');
        normalizeRows(queries, 'queries');
      }
      const index = await knnGraphIndex(base, metric, 24);
      const s = new GpuSearcher(ctx, index);
      try {
        const res = await s.search(queries, 10, { itopk: 128 });
        const truth = bruteForceKnn(base, queries, 10, metric);
        expect(recallAtK(res, base, queries, metric, truth, 10).recall).toBeGreaterThanOrEqual(0.9);
        for (let i = 0; i < res.ids.length; i++) expect(res.ids[i]).toBeGreaterThanOrEqual(0);
      } finally {
        s.destroy();
      }
    });
  }

  it('never returns duplicate or out-of-range ids', async () => {
    const s = new GpuSearcher(ctx, sift.index);
    try {
      const res = await s.search(sift.queries, 10, { itopk: 16, hashBits: 6 }); // tiny hash: forgets often
      for (let q = 0; q < res.nq; q++) {
        const row = Array.from(res.ids.subarray(q * 10, q * 10 + 10));
        expect(new Set(row).size).toBe(10);
        for (const id of row) expect(id >= 0 && id < sift.base.n).toBe(true);
      }
    } finally {
      s.destroy();
    }
  });

  it('validates search params and k at the boundary', async () => {
    const s = new GpuSearcher(ctx, sift.index);
    try {
      await expectUserError(s.search(sift.queries, 10, { itopk: 100000 }), 'itopk must be an integer in 1..512');
      await expectUserError(s.search(sift.queries, 10, { bogus: 1 } as never), "unknown field 'bogus'", 'allowed:');
      await expectUserError(s.search(sift.queries, 10, { workgroupSize: 64, teamSize: 48 }), 'multiple of teamSize');
      await expectUserError(s.search(sift.queries, 10, { itopk: 512, hashBits: 16 }), 'bytes of workgroup memory', String(ctx.limits.maxComputeWorkgroupStorageSize));
    } finally {
      s.destroy();
    }
  });

  it('splits dispatches past the per-dimension workgroup limit', () => {
    const max = ctx.limits.maxComputeWorkgroupsPerDimension;
    const [gx, gy] = grid2d(ctx, 'test', max * 3 + 1, 64);
    expect(gx).toBe(max);
    expect(gy).toBe(4);
  });
});
