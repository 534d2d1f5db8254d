/**
 * An index larger than one storage binding (src/search/base-binding.ts): the base rows, the f32
 * rerank rows and the graph are split over several bindings behind base_at / graph_at. The binding
 * limit is lowered with the device's `limitCaps` (lavapipe's real one is 128 MiB, which a 1M x 128
 * index passes), so a 3,000-row index takes the split layout a 1M index takes on a real device.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openGpu, type GpuContext } from '../../src/gpu/device.ts';
import { generateSynthetic } from '../../src/data/synthetic.ts';
import { bruteForceKnn } from '../../src/data/metric.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import type { VectorSet } from '../../src/data/types.ts';
import { buildIndex, type Index } from '../../src/search/engine.ts';
import { GpuSearcher } from '../../src/search/gpu-search.ts';
import { cpuBeamSearch } from '../../src/search/cpu-search.ts';
import { chunkLayout, chunkRange } from '../../src/search/base-binding.ts';
import { indexBytesPerVector } from '../../src/graph/index-format.ts';
import { openTestGpu } from '../gpu/helpers.ts';
import { expectUserError } from '../data/helpers.ts';

const SLOW = 300_000;
// 3,000 rows x 32 dims: 384,000 bytes of rows and of graph (degree 32): three chunks each at 128 KiB.
const CAP = 128 * 1024;

describe('chunk layout', () => {
  const lim = { maxStorageBufferBindingSize: 4096, maxBufferSize: 1 << 30, maxStorageBuffersPerShaderStage: 8 };
  it('is one binding where the array fits, else power-of-two chunks of whole 16-byte groups covering every element once', () => {
    expect(chunkLayout('x', 256, 16, lim)).toEqual({ elements: 256, elementBytes: 16, chunks: 1, shift: 0 });
    const l = chunkLayout('x', 1000, 16, lim);
    expect(l).toEqual({ elements: 1000, elementBytes: 16, chunks: 4, shift: 8 });
    expect([0, 1, 2, 3].map((c) => chunkRange(l, c))).toEqual([[0, 256], [256, 512], [512, 768], [768, 1000]]);
    // u32 elements: 1024 per 4 KiB binding; a binding limit that is no power of two rounds down.
    expect(chunkLayout('g', 5000, 4, { ...lim, maxStorageBufferBindingSize: 3000 })).toMatchObject({ chunks: 10, shift: 9 });
    // maxBufferSize bounds a chunk too.
    expect(chunkLayout('g', 5000, 4, { ...lim, maxBufferSize: 2048 })).toMatchObject({ chunks: 10, shift: 9 });
  });
});

describe('an index past the binding limit, split over several bindings', () => {
  let capped: GpuContext;
  let plain: GpuContext;
  let base: VectorSet;
  let queries: VectorSet;
  let f32: Index;
  let f16: Index;
  beforeAll(async () => {
    capped = await openGpu({ backend: process.env.CRINN_TEST_BACKEND as 'vulkan' | undefined, limitCaps: { maxStorageBufferBindingSize: CAP } });
    plain = await openTestGpu();
    const d = generateSynthetic({ n: 3000, nq: 100, dim: 32, clusters: 30, seed: 3, metric: 'l2' });
    base = d.base;
    queries = d.queries;
    f32 = (await buildIndex(base, 'l2', { seed: 1, threads: 1, graphDegree: 32 }, { quiet: true })).index;
    f16 = { ...f32, storage: 'f16', vectors: (await buildIndex(base, 'l2', { seed: 1, threads: 1, graphDegree: 32 }, { quiet: true, storage: 'f16' })).index.vectors };
  }, SLOW);
  afterAll(() => {
    capped?.destroy();
    plain?.destroy();
  });

  it('the capped device reports the lowered limit; the rows and the graph take three bindings each', () => {
    expect(capped.limits.maxStorageBufferBindingSize).toBe(CAP);
    expect(plain.limits.maxStorageBufferBindingSize).toBeGreaterThan(CAP);
    expect(capped.limits.maxStorageBuffersPerShaderStage).toBe(plain.limits.maxStorageBuffersPerShaderStage);
    // What the split arrays hold, per vector: 32 f32 / f16 values, 32 graph edges, the entry layer spread over n.
    const bpv = indexBytesPerVector(f32);
    expect([bpv.base, bpv.graph, indexBytesPerVector(f16).base]).toEqual([128, 128, 64]);
    expect(bpv.entryLayer).toBeCloseTo(((f32.entryLayer.ids.length * (1 + f32.entryLayer.degree) + f32.entryPoints.length) * 4) / 3000, 6);
    const s = new GpuSearcher(capped, f32);
    try {
      expect(s.layouts.base).toMatchObject({ chunks: 3, shift: 13 });
      expect(s.layouts.graph).toMatchObject({ chunks: 3, shift: 15 });
      const k = s.beamKernel(s.resolve(10, { itopk: 32 }));
      expect(k.cacheKey).toMatch(/-chunks=3\.3$/);
      expect(k.bindings).toHaveLength(12);
      expect(k.source).toContain('@group(0) @binding(9) var<storage, read> base_2');
      expect(k.source).toContain('@group(0) @binding(11) var<storage, read> graph_2');
    } finally {
      s.destroy();
    }
  });

  it('f32: the split search returns exactly the CPU reference beam search and the one-binding GPU search, and its recall against brute force', async () => {
    const split = new GpuSearcher(capped, f32);
    const whole = new GpuSearcher(plain, f32);
    try {
      expect(whole.layouts.base.chunks).toBe(1);
      const params = { itopk: 48 };
      const a = await split.search(queries, 10, params);
      const b = await whole.search(queries, 10, params);
      const cpu = cpuBeamSearch(f32, queries, 10, params);
      expect(Array.from(a.ids)).toEqual(Array.from(cpu.ids));
      expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
      expect(Array.from(a.distances!)).toEqual(Array.from(b.distances!));
      const truth = bruteForceKnn(base, queries, 10, 'l2');
      // Measured 0.99 (the one-binding search's figure: the same ids).
      expect(recallAtK(a, base, queries, 'l2', truth, 10).recall).toBeGreaterThan(0.97);
    } finally {
      split.destroy();
      whole.destroy();
    }
  }, SLOW);

  it('f16 with the f32 rerank: the rerank rows split too, the answers equal the one-binding search', async () => {
    const split = new GpuSearcher(capped, f16);
    const whole = new GpuSearcher(plain, f16);
    try {
      // f16 rows: 4 groups per row (two chunks); the f32 rerank rows: 8 groups per row (three).
      expect(split.layouts.base).toMatchObject({ chunks: 2 });
      expect(split.layouts.exact).toMatchObject({ chunks: 3 });
      const r = split.refineKernel();
      expect(r.cacheKey).toBe('f32-chunks=3');
      expect(r.source).toContain('base_2');
      const params = { itopk: 48 };
      const a = await split.search(queries, 10, params);
      const b = await whole.search(queries, 10, params);
      expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
      expect(Array.from(a.distances!)).toEqual(Array.from(b.distances!));
      const truth = bruteForceKnn(base, queries, 10, 'l2');
      expect(recallAtK(a, base, queries, 'l2', truth, 10).recall).toBeGreaterThan(0.97);
    } finally {
      split.destroy();
      whole.destroy();
    }
  }, SLOW);

  it('a device that cannot bind every chunk is refused with the limit and both numbers', async () => {
    const tiny = await openGpu({ backend: process.env.CRINN_TEST_BACKEND as 'vulkan' | undefined, limitCaps: { maxStorageBufferBindingSize: 16 * 1024 } });
    try {
      // 24 + 24 chunks: 7 + 46 storage bindings.
      await expectUserError(() => new GpuSearcher(tiny, f32), 'beam_search: the index needs 53 storage bindings', "maxStorageBufferBindingSize 16384", `maxStorageBuffersPerShaderStage is ${tiny.limits.maxStorageBuffersPerShaderStage}`);
    } finally {
      tiny.destroy();
    }
  });
});
