/**
 * NN-descent (Dong, Charikar, Li 2011): an approximate kNN graph from "a neighbour of a neighbour
 * is likely a neighbour". Each node keeps a sorted list of K candidates with a "new" flag; a round
 * samples up to S = ceil(rho * K) new and S old entries per node (plus as many reverse ones),
 * computes the new-new and new-old distances among them (the local join) and offers each pair to
 * both lists. Lists start from random-projection-tree leaves (as pynndescent does), which supply
 * most close pairs before the first round, topped up with random nodes.
 *
 * Where the time goes and what keeps it down (100k x 128, one thread): most candidates of a join
 * are already in each other's lists, so a membership matrix (a wasm scan over the lists) drops
 * those pairs before any distance is computed, and the pair loop itself runs in wasm; the build renumbers nodes in tree order, so the
 * lists a join touches sit close in memory; tree leaves are joined as a whole distance matrix and
 * merged into each list once.
 *
 * Parallel scheme: the lists' ids (codes) live in the shared wasm arena, distances and samples in
 * SharedArrayBuffers. The sample and reverse phases give each thread a fixed node range and write
 * only there; the join phase hands out node chunks through an atomic cursor and inserts into any
 * list under a per-node spin lock (an Atomics CAS; an unlocked "beats the worst entry?" test
 * rejects most pairs first). With one thread no lock is taken and the result is deterministic.
 * Distances are bit-identical wherever computed (simd-kernels.ts), so a duplicate entry can only
 * sit among equal distances.
 */
import { rangeOf, type OpPool, type WorkerContext } from './worker-ops.ts';
import type { NnDescentParams } from './params.ts';
import { rpSplit } from './rp-tree.ts';
import { SCRATCH_INTS } from './arena.ts';
import { Rng, hash3 } from './rng.ts';
import { insertSorted } from '../data/topk.ts';

export interface NndState {
  n: number;
  K: number;
  S: number;
  seed: number;
  locked: boolean;
  /** n * K entries, ascending distance: (id << 1) | isNew; -1 = empty. */
  codes: Int32Array;
  dist: Float32Array;
  /** worst[v] = dist[v * K + K - 1], kept apart so the hot rejection test stays in cache. */
  worst: Float32Array;
  locks: Int32Array;
  /** n * 2S: [S sampled new | S sampled old] per node; counts in fwdCnt (n * 2). */
  fwd: Int32Array;
  fwdCnt: Int32Array;
  /** n * 2S reverse samples (a reservoir of the nodes that sampled this one); seen-counts in revSeen. */
  rev: Int32Array;
  revSeen: Int32Array;
  /** [0]: join work cursor. */
  cursor: Int32Array;
}

function sharedI32(len: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Math.max(4, len * 4)));
}

function sharedF32(len: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(Math.max(4, len * 4)));
}

/** `codes` must be the arena's list region (the membership scan runs in wasm over it). */
export function createNndState(n: number, K: number, S: number, seed: number, locked: boolean, codes: Int32Array): NndState {
  const st: NndState = {
    n, K, S, seed, locked,
    codes: codes.fill(-1),
    dist: sharedF32(n * K).fill(Infinity),
    worst: sharedF32(n).fill(Infinity),
    locks: sharedI32(n),
    fwd: sharedI32(n * 2 * S),
    fwdCnt: sharedI32(n * 2),
    rev: sharedI32(n * 2 * S),
    revSeen: sharedI32(n * 2),
    cursor: sharedI32(4),
  };
  return st;
}

/** The kNN lists as plain ids (n * K, ascending distance). */
export function nndIds(st: NndState): Int32Array {
  const out = sharedI32(st.n * st.K);
  for (let i = 0; i < out.length; i++) out[i] = st.codes[i] >> 1;
  return out;
}

/** Offer (id, d) to v's list; 1 when inserted. Callers test d < worst[v] first; it is re-checked under the lock. */
function insert(st: NndState, v: number, id: number, d: number): number {
  const K = st.K;
  const codes = st.codes, dist = st.dist;
  const base = v * K;
  const last = base + K - 1;
  const locked = st.locked;
  if (locked) while (Atomics.compareExchange(st.locks, v, 0, 1) !== 0);
  let r = 0;
  if (d < dist[last]) {
    let lo = base, hi = last;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (dist[mid] > d) hi = mid;
      else lo = mid + 1;
    }
    const code = id << 1;
    let dup = false;
    for (let q = lo - 1; q >= base && dist[q] === d; q--) {
      if (codes[q] >> 1 === id) {
        dup = true;
        break;
      }
    }
    if (!dup) {
      for (let q = last; q > lo; q--) {
        codes[q] = codes[q - 1];
        dist[q] = dist[q - 1];
      }
      codes[lo] = code | 1;
      dist[lo] = d;
      st.worst[v] = dist[last];
      r = 1;
    }
  }
  if (locked) Atomics.store(st.locks, v, 0);
  return r;
}

interface JoinScratch {
  /** slot[id] = 1 + the id's index among the current join's candidates, 0 otherwise (arena memory). */
  slot: Uint16Array;
  /** The distance block read as i32, for the offers' indices. */
  offI: Int32Array;
}

/** Candidates per join are at most 4S; the scratch offsets above hold up to 2048. */
const MAX_CANDIDATES = 2048;

function joinScratch(ctx: WorkerContext, maxM: number): JoinScratch {
  let s = ctx.cache.get('nnd.join') as JoinScratch | undefined;
  if (!s) {
    const a = ctx.arena;
    if (a.slot.length === 0 || a.known.length < maxM * (maxM + 1) || maxM > MAX_CANDIDATES) {
      throw new Error('NN-descent: the arena was made without room for the join scratch');
    }
    s = { slot: a.slot, offI: new Int32Array(a.out.buffer, a.outPtr, SCRATCH_INTS) };
    ctx.cache.set('nnd.join', s);
  }
  return s;
}

/** Bytes of the per-thread membership matrix NN-descent needs for sample size S. */
export function knownBytesFor(S: number): number {
  return 4 * S * (4 * S + 1);
}

/** The sample size for list length K and sample rate rho. */
export function sampleSize(K: number, rho: number): number {
  return Math.max(1, Math.min(K, Math.ceil(rho * K)));
}

interface LeafScratch {
  mat: Float32Array;
  offD: Float32Array;
  offI: Int32Array;
  tmpC: Int32Array;
  tmpD: Float32Array;
}

function leafScratch(ctx: WorkerContext, leaf: number, K: number): LeafScratch {
  let s = ctx.cache.get('nnd.leaf') as LeafScratch | undefined;
  if (!s || s.offD.length < leaf || s.tmpC.length !== K) {
    s = {
      mat: new Float32Array(leaf * leaf),
      offD: new Float32Array(leaf),
      offI: new Int32Array(leaf),
      tmpC: new Int32Array(K),
      tmpD: new Float32Array(K),
    };
    ctx.cache.set('nnd.leaf', s);
  }
  return s;
}

/**
 * Merge `cnt` offers (ascending distance, distinct ids) into v's list in one pass under one lock:
 * one visit of the list's cache lines however many offers there are.
 */
function mergeOffers(st: NndState, v: number, offI: Int32Array, offD: Float32Array, cnt: number, s: LeafScratch): number {
  const K = st.K;
  const codes = st.codes, dist = st.dist;
  const base = v * K;
  const tmpC = s.tmpC, tmpD = s.tmpD;
  const locked = st.locked;
  if (locked) while (Atomics.compareExchange(st.locks, v, 0, 1) !== 0);
  let i = 0, j = 0, k = 0, added = 0;
  while (k < K) {
    const dl = i < K ? dist[base + i] : Infinity;
    const dof = j < cnt ? offD[j] : Infinity;
    if (dl === Infinity && dof === Infinity) break;
    if (dl <= dof) {
      tmpC[k] = codes[base + i];
      tmpD[k++] = dl;
      i++;
    } else {
      // Equal-distance list entries were emitted first; a duplicate sits among them.
      const id = offI[j];
      let dup = false;
      for (let q = k - 1; q >= 0 && tmpD[q] === dof; q--) {
        if (tmpC[q] >> 1 === id) {
          dup = true;
          break;
        }
      }
      if (!dup) {
        tmpC[k] = (id << 1) | 1;
        tmpD[k++] = dof;
        added++;
      }
      j++;
    }
  }
  for (let q = 0; q < k; q++) {
    codes[base + q] = tmpC[q];
    dist[base + q] = tmpD[q];
  }
  for (let q = k; q < K; q++) {
    codes[base + q] = -1;
    dist[base + q] = Infinity;
  }
  st.worst[v] = dist[base + K - 1];
  if (locked) Atomics.store(st.locks, v, 0);
  return added;
}

/**
 * Leaf join: the full distance matrix of the leaf's points (arena.ids[0..m)), then per point its
 * row sorted locally and merged into its list at once.
 */
function joinLeaf(ctx: WorkerContext, st: NndState, m: number): number {
  const a = ctx.arena;
  const stride = a.layout.stride;
  const cand = a.ids, out = a.out;
  const s = leafScratch(ctx, m, st.K);
  const { mat, offD, offI } = s;
  for (let i = 0; i < m - 1; i++) {
    const count = m - i - 1;
    a.dist(cand[i] * stride, 0, stride, a.idsPtr + (i + 1) * 4, count, a.outPtr, stride);
    for (let j = 0; j < count; j++) {
      const d = out[j];
      mat[i * m + i + 1 + j] = d;
      mat[(i + 1 + j) * m + i] = d;
    }
  }
  const K = st.K;
  let updates = 0;
  for (let i = 0; i < m; i++) {
    const u = cand[i];
    const w = st.worst[u];
    // Insertion sort of the row's entries that can enter the list, capped at K.
    let cnt = 0;
    for (let j = 0; j < m; j++) {
      if (j === i) continue;
      const d = mat[i * m + j];
      if (!(d < w) || (cnt === K && !(d < offD[K - 1]))) continue;
      cnt = insertSorted(offD, offI, cnt, K, d, cand[j]);
    }
    if (cnt) updates += mergeOffers(st, u, offI, offD, cnt, s);
  }
  return updates;
}

// Scratch offsets (in 4-byte words) inside the thread's id and distance blocks during a join:
// ids: candidates at 0, a row's partner ids at SUB_IDS, their indices at SUB_IDX;
// out: a row's distances at 0, per-candidate worst at WORST, offers (3 words each) from OFFERS.
const SUB_IDS = SCRATCH_INTS >> 1;
const SUB_IDX = (SCRATCH_INTS >> 2) * 3;
const WORST = SCRATCH_INTS >> 3;
const OFFERS = SCRATCH_INTS >> 2;

/**
 * Local join of one node over the candidates in arena.ids[0..m), the first nNew being new: pairs
 * (i, j) with i < nNew, j > i. Most candidates are already in each other's lists, so a membership
 * matrix is built first (wasm scanKnown); then per row the wasm joinRow skips pairs known on both
 * sides, scores the rest and returns the offers (pair beats a side's worst, side lacks it). Only
 * the list inserts run here; each refreshes the candidate's worst for the rows after it.
 */
function localJoin(ctx: WorkerContext, st: NndState, m: number, nNew: number, s: JoinScratch): number {
  const a = ctx.arena;
  const stride = a.layout.stride;
  const cand = a.ids, gworst = st.worst;
  const out = a.out, offI = s.offI;
  const K = st.K;
  const kw = m + 1; // column 0 of the matrix absorbs ids that are not candidates
  for (let p = 0; p < m; p++) out[WORST + p] = gworst[cand[p]];
  a.scanKnown(a.layout.listPtr, K * 4, a.idsPtr, m, a.slotPtr, a.knownPtr, kw);
  const worstPtr = a.outPtr + WORST * 4, offersPtr = a.outPtr + OFFERS * 4;
  const subIds = a.idsPtr + SUB_IDS * 4, subIdx = a.idsPtr + SUB_IDX * 4;
  let updates = 0;
  for (let i = 0; i < nNew; i++) {
    const k = a.joinRow(a.idsPtr, m, i, a.knownPtr, worstPtr, subIds, subIdx, a.outPtr, offersPtr, stride);
    for (let o = OFFERS, end = OFFERS + 3 * k; o < end; o += 3) {
      const side = offI[o];
      const v = cand[side];
      const d = out[o + 2];
      if (d < gworst[v]) {
        updates += insert(st, v, cand[offI[o + 1]], d);
        out[WORST + side] = gworst[v];
      }
    }
  }
  return updates;
}

interface RangeArgs {
  st: NndState;
  lo: number;
  hi: number;
  iter: number;
}

export const nndOps = {
  /** Build this thread's RP trees and join their leaves. */
  'nnd.trees'(ctx: WorkerContext, args: { st: NndState; trees: number[]; leafSize: number }): number {
    const { st, leafSize } = args;
    const a = ctx.arena;
    const perm = new Int32Array(st.n);
    let updates = 0;
    for (const t of args.trees) {
      for (let i = 0; i < st.n; i++) perm[i] = i;
      rpSplit(ctx, perm, leafSize, new Rng(hash3(st.seed, 0x7ee5, t)), (lo, hi) => {
        a.ids.set(perm.subarray(lo, hi));
        updates += joinLeaf(ctx, st, hi - lo);
      });
    }
    return updates;
  },

  /** Top up every list in [lo, hi) with random distinct nodes (own range only: no lock needed). */
  'nnd.fill'(ctx: WorkerContext, { st, lo, hi }: RangeArgs): number {
    const a = ctx.arena;
    const { n, K } = st;
    const stride = a.layout.stride;
    const { slot } = joinScratch(ctx, 4 * st.S);
    const locked = st.locked;
    st.locked = false;
    let filled = 0;
    for (let u = lo; u < hi; u++) {
      const base = u * K;
      let have = 0;
      while (have < K && st.codes[base + have] >= 0) have++;
      if (have === K) continue;
      // slot doubles as a membership mark here; cleared again below.
      slot[u] = 1;
      for (let r = 0; r < have; r++) slot[st.codes[base + r] >> 1] = 1;
      const rng = new Rng(hash3(st.seed, 0xf111, u));
      // At most n - 1 other nodes exist; after 8K random misses, scan for the rest, so this always ends.
      const want = Math.min(K, n - 1) - have;
      let m = 0;
      for (let tries = 0; m < want && tries < 8 * K; tries++) {
        const v = rng.below(n);
        if (slot[v]) continue;
        slot[v] = 1;
        a.ids[m++] = v;
      }
      for (let v = 0; m < want && v < n; v++) {
        if (slot[v]) continue;
        slot[v] = 1;
        a.ids[m++] = v;
      }
      a.dist(u * stride, 0, stride, a.idsPtr, m, a.outPtr, stride);
      for (let i = 0; i < m; i++) filled += insert(st, u, a.ids[i], a.out[i]);
      slot[u] = 0;
      // Clear the offered ids too: one that was not inserted (an infinite distance) would stay
      // marked for every later node, and once all n were marked the loop above could never end.
      for (let i = 0; i < m; i++) slot[a.ids[i]] = 0;
      for (let r = 0; r < K; r++) slot[st.codes[base + r] >> 1] = 0;
    }
    st.locked = locked;
    return filled;
  },

  /** This round's samples for nodes in [lo, hi): the nearest S new (now flagged old) and nearest S old. */
  'nnd.sample'(_ctx: WorkerContext, { st, lo, hi }: RangeArgs): null {
    const { K, S, codes, fwd, fwdCnt } = st;
    for (let u = lo; u < hi; u++) {
      const base = u * K;
      const f = u * 2 * S;
      let nNew = 0, nOld = 0;
      for (let r = 0; r < K && (nNew < S || nOld < S); r++) {
        const code = codes[base + r];
        if (code < 0) break;
        if (code & 1) {
          if (nNew < S) {
            fwd[f + nNew++] = code >> 1;
            codes[base + r] = code & ~1;
          }
        } else if (nOld < S) {
          fwd[f + S + nOld++] = code >> 1;
        }
      }
      fwdCnt[2 * u] = nNew;
      fwdCnt[2 * u + 1] = nOld;
    }
    return null;
  },

  /** Reverse samples for targets in [lo, hi): scan every node's samples, reservoir-sample S per target. */
  'nnd.reverse'(_ctx: WorkerContext, { st, lo, hi, iter }: RangeArgs): null {
    const { n, S, fwd, fwdCnt, rev, revSeen } = st;
    revSeen.fill(0, 2 * lo, 2 * hi);
    const salt = hash3(st.seed, 0x5e5e, iter);
    for (let u = 0; u < n; u++) {
      const f = u * 2 * S;
      for (let kind = 0; kind < 2; kind++) {
        const cnt = fwdCnt[2 * u + kind];
        const off = f + kind * S;
        for (let t = 0; t < cnt; t++) {
          const v = fwd[off + t];
          if (v < lo || v >= hi) continue;
          const c = revSeen[2 * v + kind]++;
          const slotBase = v * 2 * S + kind * S;
          if (c < S) rev[slotBase + c] = u;
          else {
            const r = hash3(salt, v, c) % (c + 1);
            if (r < S) rev[slotBase + r] = u;
          }
        }
      }
    }
    return null;
  },

  /** Local joins over node chunks taken from the shared cursor; returns the number of list changes. */
  'nnd.join'(ctx: WorkerContext, { st }: RangeArgs): number {
    const a = ctx.arena;
    const { n, S, fwd, fwdCnt, rev, revSeen } = st;
    const s = joinScratch(ctx, 4 * S);
    const slot = s.slot;
    const cand = a.ids;
    const CHUNK = 64;
    let updates = 0;
    for (;;) {
      const start = Atomics.add(st.cursor, 0, CHUNK);
      if (start >= n) break;
      const end = Math.min(n, start + CHUNK);
      for (let u = start; u < end; u++) {
        // Candidates, deduplicated through slot: new (forward, reverse) first, then old.
        let m = 0;
        const f = u * 2 * S;
        const cn = fwdCnt[2 * u];
        for (let t = 0; t < cn; t++) {
          const v = fwd[f + t];
          if (slot[v] === 0) { cand[m++] = v; slot[v] = m; }
        }
        const rn = Math.min(S, revSeen[2 * u]);
        for (let t = 0; t < rn; t++) {
          const v = rev[f + t];
          if (slot[v] === 0) { cand[m++] = v; slot[v] = m; }
        }
        const nNew = m;
        if (nNew > 0) {
          const co = fwdCnt[2 * u + 1];
          for (let t = 0; t < co; t++) {
            const v = fwd[f + S + t];
            if (slot[v] === 0) { cand[m++] = v; slot[v] = m; }
          }
          const ro = Math.min(S, revSeen[2 * u + 1]);
          for (let t = 0; t < ro; t++) {
            const v = rev[f + S + t];
            if (slot[v] === 0) { cand[m++] = v; slot[v] = m; }
          }
          updates += localJoin(ctx, st, m, nNew, s);
        }
        for (let p = 0; p < m; p++) slot[cand[p]] = 0;
      }
    }
    return updates;
  },
};

export type RoundCallback = (round: number, maxRounds: number, updates: number) => void;

/** Run NN-descent over the pool's arena; `st.codes` then holds the sorted kNN lists (see nndIds). */
export async function nnDescent(
  pool: OpPool,
  n: number,
  K: number,
  p: NnDescentParams,
  seed: number,
  lists: Int32Array,
  onRound?: RoundCallback,
): Promise<{ st: NndState; rounds: number; updates: number[]; seconds: Record<string, number> }> {
  const seconds: Record<string, number> = { trees: 0, fill: 0, sample: 0, join: 0 };
  let t0 = performance.now();
  const lap = (phase: string): void => {
    const t = performance.now();
    seconds[phase] += (t - t0) / 1000;
    t0 = t;
  };
  if (!(p.iterations >= 1)) throw new Error(`NN-descent: iterations = ${p.iterations}; resolve the auto (0) with resolveBuildParams first`);
  const S = sampleSize(K, p.rho);
  const threads = pool.threads;
  if (lists.length !== n * K) throw new Error(`NN-descent: list region holds ${lists.length} ints, expected ${n * K}`);
  const st = createNndState(n, K, S, seed, threads > 1, lists);
  await pool.run('nnd.trees', (t) => ({
    st,
    trees: Array.from({ length: p.trees }, (_, i) => i).filter((i) => i % threads === t),
    leafSize: p.leafSize,
  }));
  lap('trees');
  await pool.run('nnd.fill', (t) => ({ st, ...rangeOf(n, threads, t), iter: 0 }));
  lap('fill');
  const updates: number[] = [];
  let rounds = 0;
  for (let iter = 0; iter < p.iterations; iter++) {
    await pool.run('nnd.sample', (t) => ({ st, ...rangeOf(n, threads, t), iter }));
    await pool.run('nnd.reverse', (t) => ({ st, ...rangeOf(n, threads, t), iter }));
    lap('sample');
    st.cursor[0] = 0;
    const counts = await pool.run<number>('nnd.join', (t) => ({ st, ...rangeOf(n, threads, t), iter }));
    lap('join');
    const u = counts.reduce((x, y) => x + y, 0);
    updates.push(u);
    rounds++;
    onRound?.(rounds, p.iterations, u);
    if (u <= p.delta * n * K) break;
  }
  return { st, rounds, updates, seconds };
}
