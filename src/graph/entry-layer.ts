/**
 * The entry layer: a small navigable graph over a sample of the base (HNSW's upper layer, one
 * level). The search first runs a narrow beam search here and seeds the main graph search with its
 * best nodes, so a query reaches its own cluster without scoring n/50 random seeds: a kNN-derived
 * graph has few inter-cluster edges, and on synthetic-100k (316 clusters) the seed scan was 80-89%
 * of all distance evaluations.
 *
 * Sample: the graph's entry points (medoid + farthest-point picks, so every separated cluster has
 * a node) first, then random nodes up to `fraction` of n. Edges: each node's exact `candidates`
 * nearest sample nodes, of which at most `k` are kept by the HNSW neighbour-selection heuristic
 * (Malkov & Yashunin 2018, algorithm 4; DiskANN's RobustPrune with `alpha`): a candidate is dropped
 * when a kept neighbour lies closer to it than the node itself (by the factor alpha). That keeps the
 * long edges towards other clusters that a plain k-NN list over a sample loses once clusters hold
 * more sample nodes than k: with 1,000-row clusters (synthetic-200000-c200, 20 sample nodes a
 * cluster, like synthetic-1000000) the 16-NN layer sent 12% of queries to the wrong cluster and
 * the search's recall stopped at 0.90 whatever the effort. Then reverse edges (nearest first up
 * to `degree`), then bridges so every sample node is reachable from sample node 0 (the medoid).
 * Exact candidates over 2% of n cost (0.02 n)^2 / 2 distances: 0.2 s at 100k x 128 in plain TS.
 */
import type { Metric } from '../data/types.ts';
import { NO_NEIGHBOR } from './graph.ts';
import { Rng, hash3 } from './rng.ts';

export interface EntryLayer {
  /** Base ids of the sample nodes; ids[0] is the medoid, the graph's entry points come first. */
  ids: Uint32Array;
  /** Fixed row length of `neighbors`. */
  degree: number;
  /** ids.length * degree local indices (into `ids`), nearest first, NO_NEIGHBOR padding at the end. */
  neighbors: Uint32Array;
}

export interface EntryLayerParams {
  /** Share of the base sampled (0.02: HNSW's level-1 share at M = 50 is about the same). */
  fraction: number;
  /** Forward edges per sample node, chosen by the heuristic [hnswlib M, upper layers; default 16]. */
  k: number;
  /** Nearest sample nodes the heuristic chooses from [hnswlib ef_construction, default 200; DiskANN L]. */
  candidates: number;
  /**
   * Heuristic's distance factor [DiskANN alpha, default 1.2; hnswlib's heuristic is alpha = 1]: a
   * candidate c is dropped when alpha * d(kept, c) <= d(node, c). 0 keeps the plain k nearest.
   */
  alpha: number;
  /** Row length after symmetrising. */
  degree: number;
  seed: number;
}

export const DEFAULT_ENTRY_LAYER: EntryLayerParams = { fraction: 0.02, k: 16, candidates: 64, alpha: 1.2, degree: 32, seed: 1 };
/**
 * The layer's row length and forward edges for a main graph of `graphDegree`: degree
 * clamp(graphDegree, 32, 64) with half of it forward edges. A layer row as long as the main graph's
 * costs the GPU search no workgroup memory (it sizes for the larger of the two). Measured on
 * synthetic-200000-c200 (1,000-row clusters, CPU reference, recall@10 at effort 32 / 64 / 128):
 * degree 32 with 16 forward 0.977 / 0.983 / 0.983 at 936 / 1153 / 1417 evaluations a query,
 * degree 64 with 32 forward 0.989 / 0.997 / 0.997 at 1174 / 1390 / 1650; the auto graph degree is
 * 64 above 200,000 rows, where the clusters of synthetic-1000000 live.
 */
export function entryLayerShape(graphDegree: number): Pick<EntryLayerParams, 'degree' | 'k'> {
  const degree = Math.min(64, Math.max(DEFAULT_ENTRY_LAYER.degree, graphDegree));
  return { degree, k: degree >> 1 };
}

/** Below this many sample nodes the layer is the whole sample of at least this size (or all of n). */
const MIN_SAMPLE = 64;

function sqL2(v: Float32Array, a: number, b: number, dim: number, stride: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let t = 0;
  const ao = a * stride, bo = b * stride;
  for (; t + 4 <= dim; t += 4) {
    const d0 = v[ao + t] - v[bo + t];
    const d1 = v[ao + t + 1] - v[bo + t + 1];
    const d2 = v[ao + t + 2] - v[bo + t + 2];
    const d3 = v[ao + t + 3] - v[bo + t + 3];
    s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
  }
  for (; t < dim; t++) {
    const d = v[ao + t] - v[bo + t];
    s0 += d * d;
  }
  return s0 + s1 + s2 + s3;
}

function negDot(v: Float32Array, a: number, b: number, dim: number, stride: number): number {
  let s = 0;
  const ao = a * stride, bo = b * stride;
  for (let t = 0; t < dim; t++) s += v[ao + t] * v[bo + t];
  return -s;
}

/** Distance between two base ids under the layer's ordering (squared L2, or -dot for ip). */
export type LayerDist = (a: number, b: number) => number;

/**
 * The layer's distance over rows of `stride` floats: inner product ranks by -dot; l2 and angular
 * (rows normalised) by squared L2, on which the heuristic's alpha acts.
 */
export function layerDist(vectors: Float32Array, dim: number, stride: number, metric: Metric): LayerDist {
  const f = metric === 'ip' ? negDot : sqL2;
  return (a, b) => f(vectors, a, b, dim, stride);
}

/** The parameters with defaults filled in and the row sizes for a sample of m nodes. */
export interface LayerPlan {
  p: EntryLayerParams;
  /** Forward edges kept per node. */
  kOut: number;
  /** Candidates per node the heuristic chooses from (kOut when alpha is 0). */
  k: number;
  /** Row length after symmetrising. */
  degree: number;
  /** The heuristic's factor on the layer distance: alpha^2 on squared L2, 1 on -dot, 0 for none. */
  a2: number;
}

/**
 * The sample: the entry points first, then seeded random nodes up to `fraction` of n (at least
 * MIN_SAMPLE, at most n). Returns the sample's base ids and the plan for its rows.
 */
export function planEntryLayer(n: number, metric: Metric, entryPoints: Uint32Array, params: Partial<EntryLayerParams> = {}): { ids: Uint32Array; plan: LayerPlan } {
  const p = { ...DEFAULT_ENTRY_LAYER, ...params };
  const m = Math.min(n, Math.max(MIN_SAMPLE, entryPoints.length, Math.round(n * p.fraction)));
  const ids = new Uint32Array(m);
  const taken = new Uint8Array(n);
  let c = 0;
  for (const e of entryPoints) if (c < m && !taken[e]) { taken[e] = 1; ids[c++] = e; }
  if (m === n) {
    for (let v = 0; v < n; v++) if (!taken[v]) ids[c++] = v;
  } else {
    const rng = new Rng(hash3(p.seed, 0xe1a7, 1));
    while (c < m) {
      const v = rng.below(n);
      if (!taken[v]) { taken[v] = 1; ids[c++] = v; }
    }
  }
  const kOut = Math.min(p.k, m - 1);
  const k = p.alpha > 0 ? Math.min(Math.max(p.candidates, p.k), m - 1) : kOut;
  const degree = Math.max(1, Math.min(p.degree, m - 1));
  // Inner product: -dot is no distance, so no factor (alpha 1, hnswlib's heuristic) there.
  const a2 = p.alpha > 0 ? (metric === 'ip' ? 1 : p.alpha * p.alpha) : 0;
  return { ids, plan: { p, kOut, k, degree, a2 } };
}

/**
 * Build the entry layer over `vectors` (n x dim, caller's numbering) on this thread, in plain
 * TypeScript: O(m^2) distances for m = fraction * n sample nodes. The graph build uses the worker
 * pool's SIMD version instead (entry-layer-ops.ts), which gives the same layer up to float rounding.
 */
export function buildEntryLayer(vectors: Float32Array, n: number, dim: number, metric: Metric, entryPoints: Uint32Array, params: Partial<EntryLayerParams> = {}): EntryLayer {
  const { ids, plan } = planEntryLayer(n, metric, entryPoints, params);
  const m = ids.length;
  const { k, kOut, a2 } = plan;
  const dist = layerDist(vectors, dim, dim, metric);
  // Exact candidate lists within the sample: a bounded sorted list per node, each pair computed once.
  const knnD = new Float64Array(m * k).fill(Infinity);
  const knnI = new Int32Array(m * k).fill(-1);
  const push = (a: number, b: number, d: number): void => {
    const o = a * k;
    if (!(d < knnD[o + k - 1])) return;
    let pos = k - 1;
    while (pos > 0 && knnD[o + pos - 1] > d) {
      knnD[o + pos] = knnD[o + pos - 1];
      knnI[o + pos] = knnI[o + pos - 1];
      pos--;
    }
    knnD[o + pos] = d;
    knnI[o + pos] = b;
  };
  if (k > 0) {
    for (let a = 0; a < m; a++) {
      for (let b = a + 1; b < m; b++) {
        const d = dist(ids[a], ids[b]);
        push(a, b, d);
        push(b, a, d);
      }
    }
  }
  if (a2 > 0) selectDiverse(ids, dist, knnD, knnI, k, kOut, a2);
  return finishEntryLayer(ids, knnD, knnI, k, plan.degree, dist);
}

/**
 * Symmetrise and connect: each node's forward edges (rows of `rowLen` local ids in `knnI`,
 * ascending `knnD`, -1 padding), then reverse edges (nearest first) while the row has room, then
 * bridges so every sample node is reachable from node 0 (the medoid).
 */
export function finishEntryLayer(ids: Uint32Array, knnD: Float64Array | Float32Array, knnI: Int32Array, rowLen: number, degree: number, dist: LayerDist): EntryLayer {
  const m = ids.length;
  const k = rowLen;
  const rev: { d: number; from: number }[][] = Array.from({ length: m }, () => []);
  for (let a = 0; a < m; a++) {
    for (let r = 0; r < k; r++) {
      const b = knnI[a * k + r];
      if (b >= 0) rev[b].push({ d: knnD[a * k + r], from: a });
    }
  }
  const neighbors = new Uint32Array(m * degree).fill(NO_NEIGHBOR);
  const fill = new Int32Array(m);
  const has = (a: number, b: number): boolean => {
    for (let j = 0; j < fill[a]; j++) if (neighbors[a * degree + j] === b) return true;
    return false;
  };
  const add = (a: number, b: number): void => {
    if (a === b || has(a, b)) return;
    // A full row gives up its last (weakest) slot: bridges must land.
    const slot = fill[a] < degree ? fill[a]++ : degree - 1;
    neighbors[a * degree + slot] = b;
  };
  for (let a = 0; a < m; a++) for (let r = 0; r < k && fill[a] < degree; r++) if (knnI[a * k + r] >= 0) add(a, knnI[a * k + r]);
  for (let a = 0; a < m; a++) {
    rev[a].sort((x, y) => x.d - y.d);
    for (const { from } of rev[a]) {
      if (fill[a] >= degree) break;
      add(a, from);
    }
  }
  bridge(ids, dist, neighbors, degree, fill, add);
  return { ids, degree, neighbors };
}

/**
 * Per row of the candidate lists (k ids, ascending distance), keep at most kOut by the heuristic
 * and clear the rest (-1, Infinity), kept ones first in their order. Candidate c is dropped when a
 * kept s has a2 * dist(s, c) <= dist(node, c): dist is squared L2 with a2 = alpha^2, or -dot with a2 = 1.
 */
function selectDiverse(ids: Uint32Array, dist: LayerDist, knnD: Float64Array, knnI: Int32Array, k: number, kOut: number, a2: number): void {
  const m = ids.length;
  const keptI = new Int32Array(kOut);
  const keptD = new Float64Array(kOut);
  for (let a = 0; a < m; a++) {
    const o = a * k;
    let kept = 0;
    for (let r = 0; r < k && kept < kOut; r++) {
      const c = knnI[o + r];
      if (c < 0) break;
      const dc = knnD[o + r];
      let ok = true;
      for (let s = 0; s < kept && ok; s++) if (a2 * dist(ids[keptI[s]], ids[c]) <= dc) ok = false;
      if (ok) {
        keptI[kept] = c;
        keptD[kept++] = dc;
      }
    }
    for (let r = 0; r < k; r++) {
      knnI[o + r] = r < kept ? keptI[r] : -1;
      knnD[o + r] = r < kept ? keptD[r] : Infinity;
    }
  }
}

/** Connect every sample node to node 0's component: each unreached node gets two-way edges to its nearest reached node. */
function bridge(ids: Uint32Array, dist: LayerDist, neighbors: Uint32Array, degree: number, fill: Int32Array, add: (a: number, b: number) => void): void {
  const m = ids.length;
  const reached = new Uint8Array(m);
  const queue = new Int32Array(m);
  let tail = 0;
  const bfs = (head: number): void => {
    while (head < tail) {
      const x = queue[head++];
      for (let j = 0; j < fill[x]; j++) {
        const y = neighbors[x * degree + j];
        if (!reached[y]) { reached[y] = 1; queue[tail++] = y; }
      }
    }
  };
  reached[0] = 1;
  queue[tail++] = 0;
  bfs(0);
  for (let u = 0; u < m && tail < m; u++) {
    if (reached[u]) continue;
    let best = -1, bestD = Infinity;
    for (let i = 0; i < tail; i++) {
      const d = dist(ids[u], ids[queue[i]]);
      if (d < bestD) { bestD = d; best = queue[i]; }
    }
    add(best, u);
    add(u, best);
    reached[u] = 1;
    const from = tail;
    queue[tail++] = u;
    bfs(from);
  }
}

/** A layer with no edges over the given nodes: the search then just scores them (indexes built by hand in tests). */
export function flatEntryLayer(nodes: Uint32Array): EntryLayer {
  return { ids: nodes.slice(), degree: 1, neighbors: new Uint32Array(nodes.length).fill(NO_NEIGHBOR) };
}

/** Range checks: every id < n, every edge < ids.length or NO_NEIGHBOR. Returns the first problem, or null. */
export function checkEntryLayer(layer: EntryLayer, n: number): string | null {
  const { ids, neighbors, degree } = layer;
  if (ids.length === 0) return 'entry layer: no nodes';
  if (!(degree >= 1) || neighbors.length !== ids.length * degree) return `entry layer: ${neighbors.length} edges, expected ${ids.length} x ${degree}`;
  for (let i = 0; i < ids.length; i++) if (ids[i] >= n) return `entry layer node ${i}: id ${ids[i]} >= n = ${n}`;
  for (let i = 0; i < neighbors.length; i++) {
    const v = neighbors[i];
    if (v !== NO_NEIGHBOR && v >= ids.length) return `entry layer edge ${i}: ${v} >= ${ids.length} nodes`;
  }
  return null;
}

