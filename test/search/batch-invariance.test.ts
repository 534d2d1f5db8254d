/**
 * Recall must not depend on the batch size (cuVS users report it does there): each query's answer
 * is the same whether it is searched alone, in a batch of 7, or with all the others; and the bench's
 * batched timing (src/bench/batches.ts) stitches the calls' ids back in query order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { generateSynthetic } from '../../src/data/synthetic.ts';
import { bruteForceKnn } from '../../src/data/metric.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import type { VectorSet } from '../../src/data/types.ts';
import { buildIndex, type Index } from '../../src/search/engine.ts';
import { GpuSearcher } from '../../src/search/gpu-search.ts';
import { measureBatched, parseBatchList, rowsOf } from '../../src/bench/batches.ts';
import { openTestGpu } from '../gpu/helpers.ts';
import { expectUserError } from '../data/helpers.ts';

describe('batch sizes', () => {
  let ctx: GpuContext;
  let base: VectorSet;
  let queries: VectorSet;
  let index: Index;
  beforeAll(async () => {
    ctx = await openTestGpu();
    const d = generateSynthetic({ n: 4000, nq: 20, dim: 24, clusters: 40, seed: 7, metric: 'l2' });
    base = d.base;
    queries = d.queries;
    index = (await buildIndex(base, 'l2', { seed: 1, threads: 1 }, { quiet: true })).index;
  }, 300_000);
  afterAll(() => ctx?.destroy());

  it('every query gets the same ids and distances alone, in batches of 7 and all together (f32 and f16 with its rerank)', async () => {
    for (const storage of ['f32', 'f16'] as const) {
      const s = new GpuSearcher(ctx, storage === 'f32' ? index : { ...index, storage });
      try {
        const params = { itopk: 24 };
        const all = await s.search(queries, 10, params);
        const search = async (q: VectorSet) => (await s.search(q, 10, params)).ids;
        const alone = await measureBatched(search, queries, 10, 1, { reps: 1, warmup: 0 });
        const sevens = await measureBatched(search, queries, 10, 7, { reps: 1, warmup: 0 });
        expect(Array.from(alone.ids), storage).toEqual(Array.from(all.ids));
        expect(Array.from(sevens.ids), storage).toEqual(Array.from(all.ids));
        // Distances too, query by query.
        for (const q of [0, 13, 19]) {
          const one = await s.search(rowsOf(queries, q, q + 1), 10, params);
          expect(Array.from(one.distances!)).toEqual(Array.from(all.distances!.subarray(q * 10, q * 10 + 10)));
        }
        const truth = bruteForceKnn(base, queries, 10, 'l2');
        expect(recallAtK(all, base, queries, 'l2', truth, 10).recall, storage).toBeGreaterThan(0.9);
      } finally {
        s.destroy();
      }
    }
  }, 120_000);

  it('batched timing: one latency per call, reps x calls, ids back in query order', async () => {
    const seen: number[] = [];
    const fake = async (q: VectorSet) => {
      seen.push(q.n);
      // Each query's "ids" are its first coordinate's bits, so order mistakes show.
      return Int32Array.from({ length: q.n * 2 }, (_, i) => Math.round(q.data[Math.floor(i / 2) * q.dim] * 1e6));
    };
    const t = await measureBatched(fake, queries, 2, 16, { reps: 3, warmup: 1 });
    expect(seen).toEqual([16, 4, 16, 4, 16, 4, 16, 4]);
    expect(t.seconds).toHaveLength(3);
    expect(t.latencyMs.p50).toBeLessThanOrEqual(t.latencyMs.p99);
    expect(Array.from(t.ids)).toEqual(Array.from(await fake(queries)));
    await expectUserError(() => parseBatchList('1,x'), "--batch: 'x' is not a positive integer");
    await expectUserError(() => parseBatchList('100,1,100'), '--batch: batch size 100 is listed twice');
    expect(parseBatchList('10000,1,100')).toEqual([1, 100, 10000]);
  });
});
