/**
 * The entry layer's O(m^2) part on the build's worker pool: each sample node's candidate list (its
 * nearest sample nodes, by the arena's SIMD kernels) and the heuristic's pick from it, rows taken
 * in chunks from a shared cursor. The sample and the symmetrising stay in entry-layer.ts. At 1M x
 * 128 (m = 20,000) the single-threaded TypeScript version took 128 s of a quiet 2-core machine.
 */
import type { Metric } from '../data/types.ts';
import { insertSorted } from '../data/topk.ts';
import { SCRATCH_INTS } from './arena.ts';
import { finishEntryLayer, layerDist, planEntryLayer, type EntryLayer, type EntryLayerParams } from './entry-layer.ts';
import type { OpPool, WorkerContext } from './worker-ops.ts';

interface RowsArgs {
  /** Sample node ids (arena numbering). */
  sample: Int32Array;
  /** Candidates per row, forward edges kept, heuristic factor (0: keep the k nearest). */
  k: number;
  kOut: number;
  a2: number;
  /** Squared L2 (l2, angular) or -dot (ip), whatever the arena's own kernel. */
  l2: boolean;
  /** m * kOut local ids (-1 padding) and their distances. */
  outI: Int32Array;
  outD: Float32Array;
  cursor: Int32Array;
}

export const entryLayerOps = {
  'entryLayer.rows'(ctx: WorkerContext, { sample, k, kOut, a2, l2, outI, outD, cursor }: RowsArgs): null {
    const a = ctx.arena;
    const { stride } = a.layout;
    const dist = l2 ? a.l2 : a.negdot;
    const m = sample.length;
    const topD = new Float32Array(k);
    const topI = new Int32Array(k);
    const keptI = new Int32Array(kOut);
    const CHUNK = 8;
    for (;;) {
      const start = Atomics.add(cursor, 0, CHUNK);
      if (start >= m) break;
      for (let row = start; row < Math.min(m, start + CHUNK); row++) {
        const q = sample[row] * stride;
        let size = 0;
        for (let c = 0; c < m; c += SCRATCH_INTS) {
          const count = Math.min(SCRATCH_INTS, m - c);
          a.ids.set(sample.subarray(c, c + count));
          dist(q, 0, stride, a.idsPtr, count, a.outPtr, stride);
          const dd = a.out;
          for (let i = 0; i < count; i++) {
            const d = dd[i];
            if (c + i === row || (size === k && !(d < topD[k - 1]))) continue;
            size = insertSorted(topD, topI, size, k, d, c + i);
          }
        }
        const o = row * kOut;
        let kept = 0;
        for (let r = 0; r < size && kept < kOut; r++) {
          const cand = topI[r];
          let ok = true;
          if (a2 > 0 && kept > 0) {
            // Dominated when a kept node lies closer to the candidate than this node does (by the factor).
            for (let s = 0; s < kept; s++) a.ids[s] = sample[keptI[s]];
            dist(sample[cand] * stride, 0, stride, a.idsPtr, kept, a.outPtr, stride);
            for (let s = 0; s < kept && ok; s++) if (a2 * a.out[s] <= topD[r]) ok = false;
          }
          if (ok) {
            keptI[kept] = cand;
            outI[o + kept] = cand;
            outD[o + kept++] = topD[r];
          }
        }
        for (let r = kept; r < kOut; r++) {
          outI[o + r] = -1;
          outD[o + r] = Infinity;
        }
      }
    }
    return null;
  },
};

/**
 * The entry layer over the pool's arena (rows of `stride` floats in `vectors`, the arena's
 * numbering; `entryPoints` in that numbering too). Returns ids in the arena's numbering.
 */
export async function buildEntryLayerOnPool(
  pool: OpPool, vectors: Float32Array, n: number, dim: number, stride: number, metric: Metric, entryPoints: Uint32Array, params: Partial<EntryLayerParams> = {},
): Promise<EntryLayer> {
  const { ids, plan } = planEntryLayer(n, metric, entryPoints, params);
  const m = ids.length;
  const sample = new Int32Array(new SharedArrayBuffer(m * 4));
  sample.set(ids);
  const rowLen = Math.max(1, plan.kOut);
  const outI = new Int32Array(new SharedArrayBuffer(m * rowLen * 4)).fill(-1);
  const outD = new Float32Array(new SharedArrayBuffer(m * rowLen * 4)).fill(Infinity);
  if (plan.kOut > 0) {
    const cursor = new Int32Array(new SharedArrayBuffer(4));
    const args: RowsArgs = { sample, k: plan.k, kOut: plan.kOut, a2: plan.a2, l2: metric !== 'ip', outI, outD, cursor };
    await pool.run('entryLayer.rows', () => args);
  }
  return finishEntryLayer(ids, outD, outI, rowLen, plan.degree, layerDist(vectors, dim, stride, metric));
}
