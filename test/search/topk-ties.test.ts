import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { GpuBruteForce } from '../../src/data/exact-knn.ts';
import { gpuKnnProvider } from '../../src/search/engine.ts';
import { GpuSearcher } from '../../src/search/gpu-search.ts';
import { buildEntryLayer } from '../../src/graph/entry-layer.ts';
import type { Neighbors, VectorSet } from '../../src/data/types.ts';
import { openTestGpu, randomSet } from '../gpu/helpers.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await openTestGpu();
});
afterAll(() => ctx?.destroy());

/** 400 rows: 100 random ones, each repeated 4 times at ids i, i+100, i+200, i+300 (exact distance ties). */
function duplicated(): VectorSet {
  const one = randomSet(100, 16, 11);
  const data = new Float32Array(400 * 16);
  for (let c = 0; c < 4; c++) data.set(one.data, c * 100 * 16);
  return { n: 400, dim: 16, data };
}

/** Within each row, equal distances come with ascending ids; returns the number of tied pairs seen. */
function expectTiesByAscendingId(r: Neighbors): number {
  let ties = 0;
  for (let q = 0; q < r.nq; q++) {
    for (let j = 1; j < r.k; j++) {
      const a = q * r.k + j - 1;
      if (r.distances![a] === r.distances![a + 1]) {
        ties++;
        expect(r.ids[a], `query ${q} rank ${j}`).toBeLessThan(r.ids[a + 1]);
      }
    }
  }
  return ties;
}

describe('topk_select breaks distance ties toward the smaller id', () => {
  const base = duplicated();
  const queries: VectorSet = { n: 40, dim: 16, data: base.data.slice(0, 40 * 16) };

  for (const k of [6, 80]) {
    it(`in exact kNN, k = ${k} (${k < 64 ? 'sorted insert' : 'heap'})`, async () => {
      const bf = new GpuBruteForce(ctx, base, 'l2');
      try {
        const r = await bf.search(queries, k);
        for (let q = 0; q < queries.n; q++) expect(Array.from(r.ids.subarray(q * k, q * k + 4))).toEqual([q, q + 100, q + 200, q + 300]);
        expect(expectTiesByAscendingId(r)).toBeGreaterThanOrEqual(queries.n * 3);
      } finally {
        bf.destroy();
      }
    });
  }

  it('in the refinement of an f16 search, whose candidates arrive in search order, not id order', async () => {
    const degree = 16;
    const neighbors = new Uint32Array(await gpuKnnProvider(ctx)(base, degree, 'l2'));
    const entryPoints = new Uint32Array([0, 350, 123, 277]);
    const index = { metric: 'l2' as const, dim: 16, n: 400, storage: 'f16' as const, vectors: base.data, graph: { degree, neighbors }, entryPoints, entryLayer: buildEntryLayer(base.data, 400, 16, 'l2', entryPoints) };
    const s = new GpuSearcher(ctx, index);
    try {
      const r = await s.search(queries, 8, { itopk: 64, refine: 64 });
      // Each found group of copies is a run of equal distances; the graph search need not find every group.
      expect(expectTiesByAscendingId(r)).toBeGreaterThanOrEqual(queries.n * 2);
    } finally {
      s.destroy();
    }
  });
});
