/**
 * Vamana (DiskANN; Subramanya et al., NeurIPS 2019) with ParlayANN-style batch insertion.
 *
 * Nodes are inserted in a seeded random order, in batches (sizes doubling from 1, so the first
 * nodes see a graph that already exists). For each node of a batch: a greedy beam search (width L)
 * from the medoid over the current graph, then RobustPrune(alpha, R) of everything it expanded
 * plus its current out-edges. Then each new edge p->q is added in reverse (q->p), and q is
 * re-pruned when it would exceed R. Two passes: alpha = 1, then the configured alpha.
 *
 * Phases write disjoint data (the search phase writes only staging rows, the commit phase only the
 * batch's own rows, the reverse phase only rows in the thread's node range), so the graph is the
 * same for any thread count. A last phase tops every row up to exactly R from its 2-hop
 * neighbourhood, so the GPU sees a full fixed-degree graph.
 */
import type { Metric } from '../data/types.ts';
import { rangeOf, type OpPool, type WorkerContext } from './worker-ops.ts';
import { SCRATCH_INTS } from './arena.ts';
import { Rng, hash3 } from './rng.ts';

export interface VamanaState {
  n: number;
  R: number;
  L: number;
  /** n * R out-edges; deg[i] of them are valid. */
  adj: Int32Array;
  deg: Int32Array;
  /** Insertion order (a seeded permutation). */
  order: Int32Array;
  /** Staging rows for the current batch: maxBatch * R, counts in stgCnt. */
  stg: Int32Array;
  stgCnt: Int32Array;
  cursor: Int32Array;
  medoid: number;
  metric: Metric;
  seed: number;
}

/** Sort (d, id) pairs ascending by d, then id (so ties are deterministic): quicksort, insertion sort below 16. */
export function sortPairs(d: Float32Array, id: Int32Array, n: number): void {
  const stack: number[] = [0, n - 1];
  while (stack.length) {
    const hi = stack.pop()!;
    const lo = stack.pop()!;
    if (hi - lo < 16) {
      for (let i = lo + 1; i <= hi; i++) {
        const x = d[i], xi = id[i];
        let j = i - 1;
        while (j >= lo && (d[j] > x || (d[j] === x && id[j] > xi))) {
          d[j + 1] = d[j];
          id[j + 1] = id[j];
          j--;
        }
        d[j + 1] = x;
        id[j + 1] = xi;
      }
      continue;
    }
    const mid = (lo + hi) >> 1;
    const pd = d[mid], pi = id[mid];
    let i = lo, j = hi;
    while (i <= j) {
      while (d[i] < pd || (d[i] === pd && id[i] < pi)) i++;
      while (d[j] > pd || (d[j] === pd && id[j] > pi)) j--;
      if (i <= j) {
        const td = d[i]; d[i] = d[j]; d[j] = td;
        const ti = id[i]; id[i] = id[j]; id[j] = ti;
        i++;
        j--;
      }
    }
    if (lo < j) stack.push(lo, j);
    if (i < hi) stack.push(i, hi);
  }
}

interface Scratch {
  visited: Int32Array;
  stamp: number;
  poolD: Float32Array;
  poolI: Int32Array;
  poolE: Uint8Array;
  candD: Float32Array;
  candI: Int32Array;
  removed: Uint8Array;
  rem: Int32Array;
  out: Int32Array;
  /** Reverse-edge grouping: per-target linked lists of sources, in batch order. */
  head: Int32Array;
  tail: Int32Array;
  next: Int32Array;
  src: Int32Array;
}

const MAX_CAND = SCRATCH_INTS >> 1;

function scratch(ctx: WorkerContext, n: number, L: number): Scratch {
  let s = ctx.cache.get('vamana') as Scratch | undefined;
  if (!s || s.visited.length !== n || s.poolD.length !== L) {
    s = {
      visited: new Int32Array(n).fill(-1),
      stamp: 0,
      poolD: new Float32Array(L),
      poolI: new Int32Array(L),
      poolE: new Uint8Array(L),
      candD: new Float32Array(MAX_CAND),
      candI: new Int32Array(MAX_CAND),
      removed: new Uint8Array(MAX_CAND),
      rem: new Int32Array(MAX_CAND),
      out: new Int32Array(1024),
      head: new Int32Array(n).fill(-1),
      tail: new Int32Array(n),
      next: new Int32Array(1024),
      src: new Int32Array(1024),
    };
    ctx.cache.set('vamana', s);
  }
  return s;
}

/**
 * Greedy beam search for stored vector p from st.medoid; the expanded nodes (with distances)
 * are appended to s.candI / s.candD from index `c`. Returns the new candidate count.
 */
function greedySearch(ctx: WorkerContext, st: VamanaState, p: number, s: Scratch, c: number): number {
  const a = ctx.arena;
  const stride = a.layout.stride;
  const { adj, deg, R, L } = st;
  const { visited, poolD, poolI, poolE, candD, candI } = s;
  const mark = ++s.stamp;
  visited[p] = mark;
  let size = 0;
  const start = st.medoid;
  if (start !== p) {
    visited[start] = mark;
    a.ids[0] = start;
    a.dist(p * stride, 0, stride, a.idsPtr, 1, a.outPtr, stride);
    poolD[0] = a.out[0];
    poolI[0] = start;
    poolE[0] = 0;
    size = 1;
  }
  let first = 0; // every pool slot before `first` is expanded
  while (first < size) {
    const k = first;
    poolE[k] = 1;
    const x = poolI[k];
    if (c < MAX_CAND) {
      candI[c] = x;
      candD[c] = poolD[k];
      c++;
    }
    // Unvisited out-neighbours of x, scored in one kernel call.
    const row = x * R;
    const dx = deg[x];
    let m = 0;
    for (let j = 0; j < dx; j++) {
      const y = adj[row + j];
      if (visited[y] !== mark) {
        visited[y] = mark;
        a.ids[m++] = y;
      }
    }
    if (m) a.dist(p * stride, 0, stride, a.idsPtr, m, a.outPtr, stride);
    let minIns = k;
    for (let j = 0; j < m; j++) {
      const d = a.out[j];
      if (size === L && !(d < poolD[L - 1])) continue;
      let q = size < L ? size++ : L - 1;
      while (q > 0 && poolD[q - 1] > d) {
        poolD[q] = poolD[q - 1];
        poolI[q] = poolI[q - 1];
        poolE[q] = poolE[q - 1];
        q--;
      }
      poolD[q] = d;
      poolI[q] = a.ids[j];
      poolE[q] = 0;
      if (q < minIns) minIns = q;
    }
    first = minIns;
    while (first < size && poolE[first]) first++;
  }
  return c;
}

/**
 * RobustPrune: candidates s.cand[0..c) (distances to p) -> at most R out-edges in s.out.
 * For l2 the kernel gives squared distances, so alpha is squared; for ip / angular the rule runs
 * on 1 - dot. Returns the number of edges.
 */
function robustPrune(ctx: WorkerContext, st: VamanaState, p: number, s: Scratch, c: number, alpha: number): number {
  const a = ctx.arena;
  const stride = a.layout.stride;
  const { candD, candI, removed, out } = s;
  const l2 = st.metric === 'l2';
  const factor = l2 ? alpha * alpha : alpha;
  const shift = l2 ? 0 : 1;
  sortPairs(candD, candI, c);
  // Drop p itself and duplicates (equal ids have equal distances, so they are adjacent).
  let m = 0;
  for (let i = 0; i < c; i++) {
    if (candI[i] === p || (m > 0 && candI[m - 1] === candI[i])) continue;
    candI[m] = candI[i];
    candD[m] = candD[i];
    m++;
  }
  removed.fill(0, 0, m);
  let k = 0;
  for (let i = 0; i < m && k < st.R; i++) {
    if (removed[i]) continue;
    const star = candI[i];
    out[k++] = star;
    // Distances from the chosen node to the candidates still in play.
    const rem = s.rem;
    const base = SCRATCH_INTS >> 1;
    let r = 0;
    for (let j = i + 1; j < m; j++) {
      if (removed[j]) continue;
      rem[r] = j;
      a.ids[base + r] = candI[j];
      r++;
    }
    if (r === 0) break;
    a.dist(star * stride, 0, stride, a.idsPtr + base * 4, r, a.outPtr, stride);
    for (let t = 0; t < r; t++) {
      const j = rem[t];
      if (factor * (a.out[t] + shift) <= candD[j] + shift) removed[j] = 1;
    }
  }
  return k;
}

interface BatchArgs {
  st: VamanaState;
  bLo: number;
  bHi: number;
  alpha: number;
  lo: number;
  hi: number;
}

export const vamanaOps = {
  /** Search + prune for batch nodes taken from the cursor; results go to the staging rows. */
  'vam.search'(ctx: WorkerContext, { st, bLo, bHi, alpha }: BatchArgs): null {
    const a = ctx.arena;
    const stride = a.layout.stride;
    const s = scratch(ctx, st.n, st.L);
    const { adj, deg, R, order } = st;
    for (;;) {
      const b = bLo + Atomics.add(st.cursor, 0, 1);
      if (b >= bHi) break;
      const p = order[b];
      let c = greedySearch(ctx, st, p, s, 0);
      // Current out-edges join the candidates (DiskANN: V u N_out(p)).
      const dp = deg[p];
      if (dp) {
        for (let j = 0; j < dp; j++) a.ids[j] = adj[p * R + j];
        a.dist(p * stride, 0, stride, a.idsPtr, dp, a.outPtr, stride);
        for (let j = 0; j < dp && c < MAX_CAND; j++) {
          s.candI[c] = adj[p * R + j];
          s.candD[c++] = a.out[j];
        }
      }
      const k = robustPrune(ctx, st, p, s, c, alpha);
      const slot = b - bLo;
      for (let j = 0; j < k; j++) st.stg[slot * R + j] = s.out[j];
      st.stgCnt[slot] = k;
    }
    return null;
  },

  /** Batch rows [lo, hi) of the batch (positions) take their staged out-edges. */
  'vam.commit'(_ctx: WorkerContext, { st, bLo, lo, hi }: BatchArgs): null {
    const { R, order, adj, deg, stg, stgCnt } = st;
    for (let b = lo; b < hi; b++) {
      const p = order[bLo + b];
      const k = stgCnt[b];
      for (let j = 0; j < k; j++) adj[p * R + j] = stg[b * R + j];
      deg[p] = k;
    }
    return null;
  },

  /** Reverse edges into targets q in [lo, hi); a row that would overflow R is re-pruned. */
  'vam.reverse'(ctx: WorkerContext, { st, bLo, bHi, alpha, lo, hi }: BatchArgs): null {
    const a = ctx.arena;
    const stride = a.layout.stride;
    const s = scratch(ctx, st.n, st.L);
    const { R, order, adj, deg, stg, stgCnt } = st;
    // Group (q <- p) by target q, keeping batch order: linked lists through head/tail/next.
    const { head, tail } = s;
    const touched: number[] = [];
    let e = 0;
    for (let b = 0; b < bHi - bLo; b++) {
      const p = order[bLo + b];
      const k = stgCnt[b];
      for (let j = 0; j < k; j++) {
        const q = stg[b * R + j];
        if (q < lo || q >= hi) continue;
        if (e === s.next.length) {
          const nn = new Int32Array(e * 2);
          nn.set(s.next);
          s.next = nn;
          const ns = new Int32Array(e * 2);
          ns.set(s.src);
          s.src = ns;
        }
        s.src[e] = p;
        s.next[e] = -1;
        if (head[q] < 0) {
          head[q] = e;
          touched.push(q);
        } else s.next[tail[q]] = e;
        tail[q] = e;
        e++;
      }
    }
    const { next, src } = s;
    for (const q of touched) {
      // Add the missing sources; overflow goes through RobustPrune with the current row.
      const row = q * R;
      let c = 0;
      const dq = deg[q];
      for (let j = 0; j < dq; j++) s.candI[c++] = adj[row + j];
      const have = c;
      for (let u = head[q]; u >= 0; u = next[u]) {
        const p = src[u];
        let dup = false;
        for (let j = 0; j < c; j++) if (s.candI[j] === p) { dup = true; break; }
        if (!dup && c < MAX_CAND) s.candI[c++] = p;
      }
      head[q] = -1;
      if (c === have) continue;
      if (c <= R) {
        for (let j = have; j < c; j++) adj[row + j] = s.candI[j];
        deg[q] = c;
        continue;
      }
      for (let j = 0; j < c; j++) a.ids[j] = s.candI[j];
      a.dist(q * stride, 0, stride, a.idsPtr, c, a.outPtr, stride);
      for (let j = 0; j < c; j++) s.candD[j] = a.out[j];
      const k = robustPrune(ctx, st, q, s, c, alpha);
      for (let j = 0; j < k; j++) adj[row + j] = s.out[j];
      deg[q] = k;
    }
    return null;
  },

  /** Rows [lo, hi) of the final graph: the pruned edges, topped up to R from the 2-hop neighbourhood. */
  'vam.fill'(ctx: WorkerContext, { st, lo, hi, out }: BatchArgs & { out: Uint32Array }): null {
    const a = ctx.arena;
    const stride = a.layout.stride;
    const s = scratch(ctx, st.n, st.L);
    const { n, R, adj, deg } = st;
    const { visited, candD, candI } = s;
    for (let x = lo; x < hi; x++) {
      const mark = ++s.stamp;
      visited[x] = mark;
      const dx = deg[x];
      for (let j = 0; j < dx; j++) {
        const y = adj[x * R + j];
        visited[y] = mark;
        out[x * R + j] = y;
      }
      if (dx === R) continue;
      let c = 0;
      for (let j = 0; j < dx && c < MAX_CAND; j++) {
        const y = adj[x * R + j];
        for (let t = 0, dy = deg[y]; t < dy && c < MAX_CAND; t++) {
          const z = adj[y * R + t];
          if (visited[z] !== mark) {
            visited[z] = mark;
            candI[c++] = z;
          }
        }
      }
      // A tiny or badly connected graph may still fall short: add seeded random nodes.
      const rng = new Rng(hash3(st.seed, 0xf1, x));
      for (let guard = 0; dx + c < R && guard < 64 * R; guard++) {
        const z = rng.below(n);
        if (visited[z] !== mark) {
          visited[z] = mark;
          candI[c++] = z;
        }
      }
      for (let j = 0; j < c; j++) a.ids[j] = candI[j];
      if (c) a.dist(x * stride, 0, stride, a.idsPtr, c, a.outPtr, stride);
      for (let j = 0; j < c; j++) candD[j] = a.out[j];
      sortPairs(candD, candI, c);
      let k = dx;
      for (let j = 0; j < c && k < R; j++) out[x * R + k++] = candI[j];
      for (; k < R; k++) out[x * R + k] = 0xffffffff;
    }
    return null;
  },
};

/** Build a Vamana graph of degree R into `out` (n * R, padded with 0xFFFFFFFF only if n - 1 < R). */
export async function vamanaBuild(
  pool: OpPool,
  n: number,
  metric: Metric,
  p: { alpha: number; L: number; R: number },
  medoid: number,
  seed: number,
  onProgress?: (done: number, total: number) => void,
): Promise<Uint32Array> {
  const { R, L } = p;
  const T = pool.threads;
  const order = new Int32Array(new SharedArrayBuffer(n * 4));
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new Rng(hash3(seed, 0x0dde, 0));
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  const maxBatch = Math.max(1, Math.min(4096, Math.ceil(n * 0.02)));
  const st: VamanaState = {
    n, R, L, metric, seed, medoid, order,
    adj: new Int32Array(new SharedArrayBuffer(n * R * 4)),
    deg: new Int32Array(new SharedArrayBuffer(n * 4)),
    stg: new Int32Array(new SharedArrayBuffer(maxBatch * R * 4)),
    stgCnt: new Int32Array(new SharedArrayBuffer(maxBatch * 4)),
    cursor: new Int32Array(new SharedArrayBuffer(4)),
  };
  const passes = [1, p.alpha];
  const total = passes.length * n;
  let done = 0;
  for (let pass = 0; pass < passes.length; pass++) {
    const alpha = passes[pass];
    let size = pass === 0 ? 1 : maxBatch;
    for (let bLo = 0; bLo < n; ) {
      const bHi = Math.min(n, bLo + size);
      const B = bHi - bLo;
      st.cursor[0] = 0;
      await pool.run('vam.search', () => ({ st, bLo, bHi, alpha, lo: 0, hi: 0 }));
      await pool.run('vam.commit', (t) => ({ st, bLo, bHi, alpha, ...rangeOf(B, T, t) }));
      await pool.run('vam.reverse', (t) => ({ st, bLo, bHi, alpha, ...rangeOf(n, T, t) }));
      done += B;
      onProgress?.(done, total);
      bLo = bHi;
      size = Math.min(maxBatch, size * 2);
    }
  }
  const out = new Uint32Array(new SharedArrayBuffer(n * R * 4));
  await pool.run('vam.fill', (t) => ({ st, bLo: 0, bHi: 0, alpha: 1, out, ...rangeOf(n, T, t) }));
  return out;
}
