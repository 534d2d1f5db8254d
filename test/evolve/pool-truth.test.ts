/**
 * The evaluator's query truth on the GPU (src/evolve/pool-truth.ts) against the CPU scans it
 * replaces at scale: the same queries drawn in the same order, the same noise scales and k-th true
 * distances (within f32 rounding), for l2 and angular; cached results served without the GPU.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { generateSynthetic } from '../../src/data/synthetic.ts';
import { normalizeRows } from '../../src/data/metric.ts';
import type { Metric, VectorSet } from '../../src/data/types.ts';
import { seededRng } from '../../src/bench/sweep.ts';
import { QueryPool } from '../../src/evolve/query-pool.ts';
import { cpuPoolTruth, gpuPoolTruth } from '../../src/evolve/pool-truth.ts';
import { openTestGpu } from '../gpu/helpers.ts';

describe('query pool truth: GPU exact kNN vs the CPU scans', () => {
  let ctx: GpuContext;
  let base: VectorSet;
  let sources: VectorSet;
  beforeAll(async () => {
    ctx = await openTestGpu();
    const d = generateSynthetic({ n: 3000, nq: 20, dim: 24, clusters: 30, seed: 11, metric: 'l2' });
    base = d.base;
    sources = d.queries;
  });
  afterAll(() => ctx?.destroy());

  for (const metric of ['l2', 'angular'] as Metric[]) {
    it(`${metric}: 20 dataset queries then 60 perturbed rows agree query by query`, async () => {
      const b = { ...base, data: base.data.slice() };
      const s = { ...sources, data: sources.data.slice() };
      if (metric === 'angular') {
        normalizeRows(b, 'base');
        normalizeRows(s, 'queries');
      }
      const cpu = new QueryPool(b, s, metric, 10, seededRng(5)).batch(0, 80);
      const gpuPool = new QueryPool(b, s, metric, 10, seededRng(5));
      const truth = gpuPoolTruth(ctx, b, metric, 10, `test-${metric}`);
      try {
        await gpuPool.prepare(50, truth);
        await gpuPool.prepare(80, truth);
        const gpu = gpuPool.batch(0, 80);
        for (let i = 0; i < cpu.queries.data.length; i++) expect(Math.abs(gpu.queries.data[i] - cpu.queries.data[i])).toBeLessThan(1e-4);
        for (let q = 0; q < 80; q++) expect(Math.abs(gpu.kth[q] - cpu.kth[q]), `query ${q}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(cpu.kth[q])));
        // The k-th distances differ between queries (a constant would pass a loose check).
        expect(new Set(Array.from(cpu.kth)).size).toBeGreaterThan(70);
        const rows = [0, 5, 2999];
        const nn = await truth.rowNn(rows);
        const nnCpu = await cpuPoolTruth(b, 'l2', 10).rowNn(rows);
        for (let i = 0; i < rows.length; i++) expect(Math.abs(nn[i] - nnCpu[i])).toBeLessThanOrEqual(1e-4 * nnCpu[i]);
        // Cached by content: after the searchers are gone, the same rows and queries are still answered.
        truth.close();
        const again = await truth.kth(gpu.queries);
        expect(Array.from(again, (x) => Math.fround(x))).toEqual(Array.from(gpu.kth));
        expect(Array.from(await truth.rowNn(rows))).toEqual(Array.from(nn));
      } finally {
        truth.close();
      }
    }, 120_000);
  }
});
