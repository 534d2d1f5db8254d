/**
 * Entry points stored with the graph: the medoid (the vector nearest the centroid), then greedy
 * farthest-point picks (each the sample point farthest from all picked so far) over a random
 * sample of the base, so every well-separated cluster gets one once there are enough of them
 * (D^2 sampling, tried first, left about 1 in 10 of 100 Gaussian clusters without a seed).
 * Drawing from a sample keeps rare outliers out of the set.
 * The GPU search scores a query against the whole set and starts from the closest few; a single
 * start node shared by all queries loses recall on clustered data (cuVS issue 2102).
 * Spreading uses squared L2 whatever the metric: coverage is a geometric notion.
 */
import type { OpPool, WorkerContext } from './worker-ops.ts';
import { SCRATCH_INTS } from './arena.ts';
import { Rng, hash3 } from './rng.ts';

interface ConnectArgs {
  graph: Uint32Array;
  degree: number;
  entry: Uint32Array;
  out: Int32Array;
}

/** Mark everything reachable from the queued nodes (breadth first). */
function bfs(graph: Uint32Array, degree: number, reached: Uint8Array, queue: Int32Array, head: number, tail: number): number {
  while (head < tail) {
    const x = queue[head++];
    const row = x * degree;
    for (let j = 0; j < degree; j++) {
      const y = graph[row + j];
      if (y !== 0xffffffff && !reached[y]) {
        reached[y] = 1;
        queue[tail++] = y;
      }
    }
  }
  return tail;
}

/** Put edge x -> y into x's row: the first empty slot, else over the last (weakest) edge. */
function setEdge(graph: Uint32Array, degree: number, x: number, y: number): void {
  const row = x * degree;
  for (let j = 0; j < degree; j++) {
    if (graph[row + j] === y) return;
    if (graph[row + j] === 0xffffffff) {
      graph[row + j] = y;
      return;
    }
  }
  graph[row + degree - 1] = y;
}

interface EntryArgs {
  count: number;
  seed: number;
  out: Int32Array;
}

/** Index of the stored vector nearest (squared L2) to the vector at byte address qPtr. */
function nearestTo(ctx: WorkerContext, qPtr: number): number {
  const a = ctx.arena;
  const { n, stride, iotaPtr } = a.layout;
  let best = 0, bestD = Infinity;
  for (let c = 0; c < n; c += SCRATCH_INTS) {
    const m = Math.min(SCRATCH_INTS, n - c);
    a.l2(qPtr, 0, stride, iotaPtr + c * 4, m, a.outPtr, stride);
    for (let i = 0; i < m; i++) {
      if (a.out[i] < bestD) {
        bestD = a.out[i];
        best = c + i;
      }
    }
  }
  return best;
}

/** The medoid: the vector nearest the centroid. */
export function medoid(ctx: WorkerContext): number {
  const a = ctx.arena;
  const { n, dim4 } = a.layout;
  const sum = new Float64Array(dim4);
  const f = a.f32;
  for (let i = 0; i < n; i++) {
    const o = i * dim4;
    for (let j = 0; j < dim4; j++) sum[j] += f[o + j];
  }
  for (let j = 0; j < dim4; j++) a.q[j] = sum[j] / n;
  return nearestTo(ctx, a.qPtr);
}

export const entryPointOps = {
  /**
   * Make every node reachable from the entry points. Well-separated clusters give kNN-based
   * graphs with no edge between them; for each unreached node (in id order) a two-way bridge to
   * its nearest reached node (among at most 16 Ki of them) is added, then its component is
   * marked. Overwriting a weakest edge can cut off something else, so the check repeats.
   * out[0] = bridges added, out[1] = nodes still unreached (0 unless the passes ran out).
   */
  'entry.connect'(ctx: WorkerContext, args: ConnectArgs | null): null {
    if (!args) return null;
    const { graph, degree, entry, out } = args;
    const a = ctx.arena;
    const { n, stride } = a.layout;
    const reached = new Uint8Array(n);
    const queue = new Int32Array(n);
    const cand = new Int32Array(SCRATCH_INTS);
    let bridges = 0;
    let missing = 0;
    for (let pass = 0; pass < 4; pass++) {
      reached.fill(0);
      let tail = 0;
      for (const e of entry) {
        if (!reached[e]) {
          reached[e] = 1;
          queue[tail++] = e;
        }
      }
      tail = bfs(graph, degree, reached, queue, 0, tail);
      if (tail === n) {
        out[0] = bridges;
        out[1] = 0;
        return null;
      }
      missing = n - tail;
      for (let u = 0; u < n; u++) {
        if (reached[u]) continue;
        // Nearest reached node among an evenly strided sample of the reached ones.
        const step = Math.max(1, Math.ceil(tail / SCRATCH_INTS));
        let m = 0;
        for (let i = 0; i < tail && m < SCRATCH_INTS; i += step) cand[m++] = queue[i];
        a.ids.set(cand.subarray(0, m));
        a.dist(u * stride, 0, stride, a.idsPtr, m, a.outPtr, stride);
        let best = 0;
        for (let i = 1; i < m; i++) if (a.out[i] < a.out[best]) best = i;
        const v = cand[best];
        setEdge(graph, degree, v, u);
        setEdge(graph, degree, u, v);
        bridges++;
        reached[u] = 1;
        const from = tail;
        queue[tail++] = u;
        tail = bfs(graph, degree, reached, queue, from, tail);
      }
      out[0] = bridges;
    }
    out[1] = missing;
    return null;
  },

  'entry.select'(ctx: WorkerContext, args: EntryArgs | null): null {
    if (!args) return null;
    const { count, seed, out } = args;
    const a = ctx.arena;
    const { n, stride } = a.layout;
    const rng = new Rng(hash3(seed, 0xe17e, 0));
    // The candidate sample: everything when small, else a few per entry point.
    const m = Math.min(n, Math.max(4096, 8 * count));
    const sample = new Int32Array(m);
    if (m === n) {
      for (let i = 0; i < n; i++) sample[i] = i;
    } else {
      const seen = new Uint8Array(n);
      for (let i = 0; i < m; ) {
        const v = rng.below(n);
        if (!seen[v]) {
          seen[v] = 1;
          sample[i++] = v;
        }
      }
    }
    const minD = new Float64Array(m).fill(Infinity);
    const chosen = new Uint8Array(m);
    const update = (p: number): void => {
      for (let c = 0; c < m; c += SCRATCH_INTS) {
        const len = Math.min(SCRATCH_INTS, m - c);
        a.ids.set(sample.subarray(c, c + len));
        a.l2(p * stride, 0, stride, a.idsPtr, len, a.outPtr, stride);
        for (let i = 0; i < len; i++) if (a.out[i] < minD[c + i]) minD[c + i] = a.out[i];
      }
    };
    const first = medoid(ctx);
    out[0] = first;
    for (let i = 0; i < m; i++) if (sample[i] === first) chosen[i] = 1;
    update(first);
    for (let e = 1; e < count; e++) {
      // Farthest point: the sample point farthest from every entry point so far.
      let pick = -1;
      let far = -1;
      for (let i = 0; i < m; i++) {
        if (!chosen[i] && minD[i] > far) {
          far = minD[i];
          pick = i;
        }
      }
      if (pick < 0) break;
      chosen[pick] = 1;
      out[e] = sample[pick];
      update(sample[pick]);
    }
    return null;
  },
};

/** Bridge unreachable parts of `graph` (n * degree, build numbering) to the entry points; returns bridges added. */
export async function connectGraph(pool: OpPool, graph: Uint32Array, degree: number, entry: Uint32Array): Promise<{ bridges: number; unreachable: number }> {
  const out = new Int32Array(new SharedArrayBuffer(8));
  const shared = new Uint32Array(new SharedArrayBuffer(Math.max(4, graph.length * 4)));
  shared.set(graph);
  await pool.run('entry.connect', (t) => (t === 0 ? { graph: shared, degree, entry, out } : null));
  graph.set(shared);
  return { bridges: out[0], unreachable: out[1] };
}

/** `count` distinct entry points, medoid first. */
export async function selectEntryPoints(pool: OpPool, n: number, count: number, seed: number): Promise<Uint32Array> {
  const c = Math.min(count, n);
  const out = new Int32Array(new SharedArrayBuffer(Math.max(4, c * 4))).fill(-1);
  await pool.run('entry.select', (t) => (t === 0 ? { count: c, seed, out } : null));
  // When the sample ran out (count > sample size), fill with unused ids in order.
  const used = new Set<number>();
  const res = new Uint32Array(c);
  let k = 0;
  for (let i = 0; i < c; i++) if (out[i] >= 0 && !used.has(out[i])) { used.add(out[i]); res[k++] = out[i]; }
  for (let v = 0; k < c && v < n; v++) if (!used.has(v)) { used.add(v); res[k++] = v; }
  return res;
}
