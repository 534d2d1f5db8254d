/**
 * CAGRA graph optimisation (Ootomo et al., arXiv 2308.15136, section 3.2), from a kNN graph of
 * degree K sorted by distance to a fixed-degree graph of degree d:
 *
 * 1. Rank-based pruning (the counting loop is a wasm kernel, simd-kernels.ts). For node X with list L (ranks 0..K-1), an edge X->C at rank j is
 *    "detourable" through X->A (rank i) and A->C (rank r in A's list) when max(i, r) < j. Ranks
 *    stand in for distances, so no distance is computed. Keep the d edges with the fewest detours,
 *    ties by rank.
 * 2. Reverse graph: for rank k = 0, 1, ... and every X, pruned edge X->Y adds X to rev(Y) while
 *    rev(Y) holds fewer than d entries (strong edges first).
 * 3. Merge: the first d/2 pruned edges are protected; rev(Y)'s entries follow in order (skipping
 *    protected ones); the remaining pruned edges fill what is left, no duplicates.
 *
 * Each phase writes only its own node range, so the result does not depend on the thread count.
 */
import { rangeOf, type OpPool, type WorkerContext } from './worker-ops.ts';
import type { Graph } from './graph.ts';

interface DetourArgs {
  K: number;
  d: number;
  pruned: Int32Array;
  lo: number;
  hi: number;
}

interface ReverseArgs {
  pruned: Int32Array;
  n: number;
  d: number;
  rev: Int32Array;
  revCnt: Int32Array;
  lo: number;
  hi: number;
}

interface MergeArgs {
  pruned: Int32Array;
  rev: Int32Array;
  revCnt: Int32Array;
  d: number;
  out: Uint32Array;
  lo: number;
  hi: number;
}

export const pruneOps = {
  /** Rows [lo, hi): detour counts (wasm kernel over the arena's code lists), then the d best by (detours, rank). */
  'prune.detour'(ctx: WorkerContext, { K, d, pruned, lo, hi }: DetourArgs): null {
    const a = ctx.arena;
    const lists = a.lists;
    if (lists.length !== a.layout.n * K || a.slot.length === 0) throw new Error('prune: the arena holds no kNN lists');
    // rank1[c] = 1 + c's rank in the current list, 0 otherwise (the NN-descent slot array, free now).
    const rank1 = a.slot;
    // detours[1 + j] counts rank j's detours; detours[0] absorbs the misses (the kernel has no branch).
    const detours = new Int32Array(a.out.buffer, a.outPtr, K + 1);
    const bucketStart = new Int32Array(K + 1);
    const order = new Int32Array(K);
    for (let x = lo; x < hi; x++) {
      const row = x * K;
      for (let j = 0; j < K; j++) rank1[lists[row + j] >> 1] = j + 1;
      for (let j = 0; j <= K; j++) detours[j] = 0;
      a.detours(a.layout.listPtr, K, x, a.slotPtr, a.outPtr, 0, 0);
      for (let j = 0; j < K; j++) rank1[lists[row + j] >> 1] = 0;
      // Stable counting sort by detour count (a count is at most its rank, < K).
      bucketStart.fill(0);
      for (let j = 0; j < K; j++) bucketStart[detours[j + 1] + 1]++;
      for (let b = 1; b <= K; b++) bucketStart[b] += bucketStart[b - 1];
      for (let j = 0; j < K; j++) order[bucketStart[detours[j + 1]]++] = j;
      const out = x * d;
      for (let t = 0; t < d; t++) pruned[out + t] = lists[row + order[t]] >> 1;
    }
    return null;
  },

  'prune.reverse'(_ctx: WorkerContext, { pruned, n, d, rev, revCnt, lo, hi }: ReverseArgs): null {
    revCnt.fill(0, lo, hi);
    for (let k = 0; k < d; k++) {
      for (let x = 0; x < n; x++) {
        const y = pruned[x * d + k];
        if (y < lo || y >= hi) continue;
        const c = revCnt[y];
        if (c < d) {
          rev[y * d + c] = x;
          revCnt[y] = c + 1;
        }
      }
    }
    return null;
  },

  'prune.merge'(_ctx: WorkerContext, { pruned, rev, revCnt, d, out, lo, hi }: MergeArgs): null {
    const protectedEdges = d >> 1;
    for (let y = lo; y < hi; y++) {
      const row = y * d;
      let k = 0;
      for (; k < protectedEdges; k++) out[row + k] = pruned[row + k];
      const rc = revCnt[y];
      for (let t = 0; t < rc && k < d; t++) {
        const x = rev[y * d + t];
        if (!contains(out, row, k, x)) out[row + k++] = x;
      }
      for (let t = protectedEdges; t < d && k < d; t++) {
        const x = pruned[row + t];
        if (!contains(out, row, k, x)) out[row + k++] = x;
      }
    }
    return null;
  },
};

function contains(a: Uint32Array, start: number, len: number, v: number): boolean {
  for (let i = start, end = start + len; i < end; i++) if (a[i] === v) return true;
  return false;
}

/**
 * The arena's kNN lists (n * K codes, id << 1 | flag, each row sorted by distance) -> CAGRA
 * graph of degree d written into `graph`.
 */
export async function cagraOptimize(pool: OpPool, n: number, K: number, graph: Graph): Promise<void> {
  const d = graph.degree;
  const T = pool.threads;
  const pruned = new Int32Array(new SharedArrayBuffer(Math.max(4, n * d * 4)));
  await pool.run('prune.detour', (t) => ({ K, d, pruned, ...rangeOf(n, T, t) }));
  const rev = new Int32Array(new SharedArrayBuffer(Math.max(4, n * d * 4)));
  const revCnt = new Int32Array(new SharedArrayBuffer(Math.max(4, n * 4)));
  await pool.run('prune.reverse', (t) => ({ pruned, n, d, rev, revCnt, ...rangeOf(n, T, t) }));
  const out = new Uint32Array(new SharedArrayBuffer(Math.max(4, n * d * 4)));
  await pool.run('prune.merge', (t) => ({ pruned, rev, revCnt, d, out, ...rangeOf(n, T, t) }));
  graph.neighbors.set(out);
}
