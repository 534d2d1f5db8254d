/**
 * Exact kNN graphs: the injectable provider type (the GPU brute force plugs in here) and the CPU
 * fallback, a brute force over the arena's SIMD kernels split across the pool's threads.
 */
import type { Metric, VectorSet } from '../data/types.ts';
import type { OpPool, WorkerContext } from './worker-ops.ts';
import { SCRATCH_INTS } from './arena.ts';
import { insertSorted } from '../data/topk.ts';

/**
 * Exact k nearest neighbours of every base vector among the base, itself excluded: n * k ids,
 * row-major, ascending distance. The metric's own distance decides the order.
 */
export type KnnProvider = (base: VectorSet, k: number, metric: Metric) => Promise<Int32Array>;

interface ExactArgs {
  out: Int32Array;
  k: number;
  cursor: Int32Array;
}

export const knnOps = {
  /** Rows taken in chunks from a shared cursor; each row scans all n with the metric kernel. */
  'knn.exact'(ctx: WorkerContext, { out, k, cursor }: ExactArgs): null {
    const a = ctx.arena;
    const { n, stride, iotaPtr } = a.layout;
    const topD = new Float32Array(k + 1);
    const topI = new Int32Array(k + 1);
    const CHUNK = 16;
    for (;;) {
      const start = Atomics.add(cursor, 0, CHUNK);
      if (start >= n) break;
      const end = Math.min(n, start + CHUNK);
      for (let q = start; q < end; q++) {
        let size = 0;
        for (let c = 0; c < n; c += SCRATCH_INTS) {
          const m = Math.min(SCRATCH_INTS, n - c);
          a.dist(q * stride, 0, stride, iotaPtr + c * 4, m, a.outPtr, stride);
          const dd = a.out;
          for (let i = 0; i < m; i++) {
            const d = dd[i];
            const id = c + i;
            if (id === q || (size === k && !(d < topD[k - 1]))) continue;
            size = insertSorted(topD, topI, size, k, d, id);
          }
        }
        out.set(topI.subarray(0, k), q * k);
      }
    }
    return null;
  },
};

/** Exact kNN of the pool's arena on the CPU: O(n^2 * dim); fine up to a few tens of thousands. */
export async function cpuExactKnn(pool: OpPool, n: number, k: number): Promise<Int32Array> {
  const out = new Int32Array(new SharedArrayBuffer(Math.max(4, n * k * 4)));
  const cursor = new Int32Array(new SharedArrayBuffer(4));
  await pool.run('knn.exact', () => ({ out, k, cursor }));
  return out;
}
