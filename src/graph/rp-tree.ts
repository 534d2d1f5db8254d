/**
 * Random-projection trees: split a set of points by the perpendicular bisector of two random
 * members until a part holds at most `leafSize` points. Used twice: NN-descent joins each leaf's
 * points pairwise to seed its lists, and the build renumbers nodes in leaf order so that near
 * points get near ids (their lists and vectors then share cache lines and pages).
 */
import type { WorkerContext } from './worker-ops.ts';
import { SCRATCH_INTS } from './arena.ts';
import { Rng, hash3 } from './rng.ts';

function projScratch(ctx: WorkerContext, n: number): Float32Array {
  let p = ctx.cache.get('rp.proj') as Float32Array | undefined;
  if (!p || p.length < n) {
    p = new Float32Array(n);
    ctx.cache.set('rp.proj', p);
  }
  return p;
}

/**
 * Split perm[0..n) in place; `onLeaf(lo, hi)` sees every leaf, left to right, so on return the
 * leaves tile perm in a spatially coherent order. Uses the thread's spare-vector scratch.
 */
export function rpSplit(ctx: WorkerContext, perm: Int32Array, leafSize: number, rng: Rng, onLeaf: (lo: number, hi: number) => void): void {
  const a = ctx.arena;
  const { dim4, stride } = a.layout;
  const n = perm.length;
  const f32 = a.f32;
  const proj = projScratch(ctx, n);
  const w = a.q;
  const wPtr = a.qPtr;
  const stack: number[] = [0, n];
  while (stack.length) {
    const hi = stack.pop()!;
    const lo = stack.pop()!;
    const size = hi - lo;
    if (size <= leafSize) {
      onLeaf(lo, hi);
      continue;
    }
    const pa = perm[lo + rng.below(size)];
    let pb = perm[lo + rng.below(size)];
    for (let tries = 0; pb === pa && tries < 8; tries++) pb = perm[lo + rng.below(size)];
    // w = x_a - x_b; points with w.x > (|x_a|^2 - |x_b|^2) / 2 are nearer x_a.
    let thr = 0;
    const oa = pa * dim4, ob = pb * dim4;
    for (let j = 0; j < dim4; j++) {
      const xa = f32[oa + j], xb = f32[ob + j];
      w[j] = xa - xb;
      thr += (xa * xa - xb * xb) * 0.5;
    }
    for (let c = lo; c < hi; c += SCRATCH_INTS) {
      const m = Math.min(SCRATCH_INTS, hi - c);
      a.ids.set(perm.subarray(c, c + m));
      a.negdot(wPtr, 0, stride, a.idsPtr, m, a.outPtr, stride);
      for (let i = 0; i < m; i++) proj[c + i] = -a.out[i] - thr;
    }
    // Left: proj < 0; exact ties alternate so duplicate points still split.
    let i = lo, j = hi - 1, flip = 0;
    while (i <= j) {
      const p = proj[i];
      if (p < 0 || (p === 0 && (flip ^= 1) === 1)) i++;
      else {
        const tp = perm[i]; perm[i] = perm[j]; perm[j] = tp;
        const tq = proj[i]; proj[i] = proj[j]; proj[j] = tq;
        j--;
      }
    }
    let mid = i;
    if (mid === lo || mid === hi) mid = lo + (size >> 1); // degenerate split: halve
    stack.push(mid, hi, lo, mid); // left popped first
  }
}

export const rpOps = {
  /** perm (new id -> old id) in the leaf order of one tree; run on one thread. */
  'rp.order'(ctx: WorkerContext, args: { perm: Int32Array; leafSize: number; seed: number } | null): null {
    if (!args) return null;
    const { perm, leafSize, seed } = args;
    for (let i = 0; i < perm.length; i++) perm[i] = i;
    rpSplit(ctx, perm, leafSize, new Rng(hash3(seed, 0x0de7, 0)), () => {});
    return null;
  },
};
