import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { GpuBruteForce, gpuExactKnn } from '../../src/data/exact-knn.ts';
import { bruteForceKnn, normalizeRows } from '../../src/data/metric.ts';
import { loadDataset } from '../../src/data/resolve.ts';
import { recallAtK, groundTruthKthDistances } from '../../src/bench/recall.ts';
import type { Metric } from '../../src/data/types.ts';
import { openTestGpu, randomSet } from './helpers.ts';
import { sharedData, hasShared, expectUserError } from '../data/helpers.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await openTestGpu();
});
afterAll(() => ctx?.destroy());

describe('GPU exact kNN', () => {
  // The shipped siftsmall-5k slice always runs; the full siftsmall with its official ground truth
  // runs when ../shared (or $CRINN_DATA_DIR) is present.
  const sets = [
    { name: 'siftsmall-5k (shipped ground truth)', load: () => loadDataset('siftsmall-5k') },
    ...(hasShared ? [{ name: 'siftsmall (official ground truth)', load: () => loadDataset('siftsmall', { dataDir: sharedData }) }] : []),
  ];
  for (const set of sets) {
    it(`reproduces the ${set.name} (distance-aware recall@100 = 1)`, async () => {
      const { base, queries, groundTruth: gt } = await set.load();
      const res = await gpuExactKnn(ctx, base, queries, 100, 'l2');
      const truth = { ids: gt!.ids, nq: gt!.nq, k: gt!.k };
      const r = recallAtK(res, base, queries, 'l2', truth, 100);
      expect(r.recall).toBe(1);
      // Ids may differ from the reference list only at tied distances.
      const kth = groundTruthKthDistances(truth, base, queries, 'l2', 100);
      let differing = 0;
      for (let i = 0; i < res.ids.length; i++) if (res.ids[i] !== gt!.ids[i]) differing++;
      expect(differing / res.ids.length).toBeLessThan(0.01);
      expect(res.distances![99]).toBeCloseTo(kth[0], 0);
    });
  }

  // Awkward sizes: dim not a multiple of 4, n not a multiple of any tile, query count odd.
  for (const metric of ['l2', 'ip', 'angular'] as Metric[]) {
    for (const k of [1, 10, 100]) {
      it(`matches a CPU brute force for ${metric}, k=${k}, n=1003, dim=37`, async () => {
        const base = randomSet(1003, 37, 11);
        const queries = randomSet(29, 37, 12);
        if (metric === 'angular') {
          normalizeRows(base, 'base');
          normalizeRows(queries, 'queries');
        }
        const gpu = await gpuExactKnn(ctx, base, queries, k, metric);
        const cpu = bruteForceKnn(base, queries, k, metric);
        const r = recallAtK(gpu, base, queries, metric, cpu, k);
        expect(r.recall).toBe(1);
        for (let i = 0; i < cpu.distances!.length; i++) expect(gpu.distances![i]).toBeCloseTo(cpu.distances![i], 4);
      });
    }
  }

  it('splits a base larger than one chunk and still agrees with the CPU', async () => {
    const base = randomSet(5001, 19, 21);
    const queries = randomSet(13, 19, 22);
    // 16 KiB blocks force ~10 base chunks and several query blocks through the merge path.
    const bf = new GpuBruteForce(ctx, base, 'l2', { blockBytes: 16 << 10, firstSegment: 64 });
    try {
      const gpu = await bf.search(queries, 50);
      const cpu = bruteForceKnn(base, queries, 50, 'l2');
      expect(recallAtK(gpu, base, queries, 'l2', cpu, 50).recall).toBe(1);
      expect(Array.from(gpu.ids.subarray(0, 50))).toEqual(Array.from(cpu.ids.subarray(0, 50)));
    } finally {
      bf.destroy();
    }
  });

  it('rejects k larger than the base and mismatched dimensions with one-line errors', async () => {
    const base = randomSet(20, 8, 1);
    await expectUserError(gpuExactKnn(ctx, base, randomSet(2, 8, 2), 21, 'l2'), 'k: 21 is larger than the base (20 vectors)');
    await expectUserError(gpuExactKnn(ctx, base, randomSet(2, 9, 2), 5, 'l2'), 'dimension 9', '8');
  });
});
