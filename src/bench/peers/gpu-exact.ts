/**
 * This project's GPU exact kNN (GpuBruteForce) as a bench system: base uploaded once at build,
 * one search call per batch, one fixed point at recall 1. It anchors the GPU side of every table:
 * a graph search that is slower than exact search on the same adapter is not worth its recall loss.
 */
import { GpuBruteForce } from '../../data/exact-knn.ts';
import type { Dataset, VectorSet } from '../../data/types.ts';
import type { BenchSystem, SystemEnv, SystemOptions } from '../bench-system.ts';

export async function createGpuExact(env: SystemEnv, _o: SystemOptions): Promise<BenchSystem> {
  let bf: GpuBruteForce | undefined;
  return {
    name: 'gpu-exact',
    kind: 'gpu',
    params: { exact: true },
    efforts: [],
    minEffort: 1,
    maxEffort: 1,
    async build(ds: Dataset) {
      const ctx = await env.gpu();
      const t0 = performance.now();
      bf = new GpuBruteForce(ctx, ds.base, ds.metric);
      // The upload is queued; the build ends when the device has it.
      await ctx.idle('gpu-exact upload');
      return { seconds: (performance.now() - t0) / 1000, params: { metric: ds.metric, adapter: ctx.adapter.name } };
    },
    async search(queries: VectorSet, k: number) {
      if (!bf) throw new Error('gpu-exact: search before build');
      return (await bf.search(queries, k)).ids;
    },
    async close() {
      bf?.destroy();
      bf = undefined;
    },
  };
}
