import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { storageBuffer } from '../../src/gpu/buffers.ts';
import { buildIndex } from '../../src/search/engine.ts';
import { GpuSearcher } from '../../src/search/gpu-search.ts';
import { bruteForceKnn } from '../../src/data/metric.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import { openTestGpu, randomSet } from './helpers.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await openTestGpu();
});
afterAll(() => ctx?.destroy());

describe('device memory accounting (GpuContext.memory)', () => {
  it('counts a buffer from creation to its first destroy, padded size, once', () => {
    const before = ctx.memory.liveBytes;
    const w = ctx.memory.window();
    const b = storageBuffer(ctx, 'test:memory', 1000);
    expect(ctx.memory.liveBytes - before).toBe(1008);
    b.destroy();
    b.destroy();
    expect(ctx.memory.liveBytes).toBe(before);
    expect(w.stop()).toEqual({ startBytes: before, peakBytes: before + 1008 });
  });

  it('a searcher holds its index on the device, frees every per-call buffer after a search and all of it on destroy', async () => {
    const base = randomSet(3000, 24, 7);
    const queries = randomSet(50, 24, 8);
    const { index } = await buildIndex(base, 'l2', { seed: 1, threads: 1 }, { quiet: true });
    const before = ctx.memory.liveBytes;
    const s = new GpuSearcher(ctx, index);
    try {
      const held = ctx.memory.liveBytes - before;
      // At least the graph rows (u32) and the f16 search rows; well under twice graph + f32 rows + entry layer.
      const graph = index.n * index.graph.degree * 4;
      expect(held).toBeGreaterThanOrEqual(graph + index.n * 24 * 2);
      expect(held).toBeLessThan(2 * (graph + index.n * 24 * 4 + index.entryLayer.neighbors.length * 4 + index.entryLayer.ids.length * 4));
      const w = ctx.memory.window();
      const r = await s.search(queries, 10, { itopk: 64 });
      const { startBytes, peakBytes } = w.stop();
      expect(startBytes - before).toBe(held);
      // The batch's queries, lists and results were on the device, and are gone again.
      expect(peakBytes - startBytes).toBeGreaterThanOrEqual(queries.n * 24 * 4 + queries.n * 10 * 8);
      expect(ctx.memory.liveBytes - before).toBe(held);
      // The oracle: the search answered (a searcher that skipped its buffers would not).
      expect(recallAtK(r, base, queries, 'l2', bruteForceKnn(base, queries, 10, 'l2'), 10).recall).toBeGreaterThanOrEqual(0.9);
    } finally {
      s.destroy();
    }
    expect(ctx.memory.liveBytes).toBe(before);
  }, 300_000);
});
