/**
 * Held-out queries for the evaluator: perturbed copies of the dataset's queries, each with its k-th
 * true distance computed here, in the parent, before any child sees it. Every timed call takes the
 * next unseen ones, so a child that caches results by query content never gets a hit, and ground
 * truth never leaves this process.
 */
import { distance } from '../data/metric.ts';
import type { Metric, VectorSet } from '../data/types.ts';

export interface QueryBatch {
  queries: VectorSet;
  /** k-th smallest true distance per query (recallAtK's `truth`). */
  kth: Float32Array;
}

export class QueryPool {
  private readonly items: { vec: Float32Array; kth: number }[] = [];
  private readonly nnL2 = new Map<number, number>();

  /**
   * `alpha`: noise norm as a fraction of the source query's nearest-neighbour L2 distance; 0.5
   * moves a query far enough that its neighbour list changes, near enough to keep the workload.
   */
  private readonly base: VectorSet;
  private readonly sources: VectorSet;
  private readonly metric: Metric;
  private readonly k: number;
  private readonly rng: () => number;
  private readonly alpha: number;

  constructor(base: VectorSet, sources: VectorSet, metric: Metric, k: number, rng: () => number, alpha = 0.5) {
    this.base = base;
    this.sources = sources;
    this.metric = metric;
    this.k = k;
    this.rng = rng;
    this.alpha = alpha;
  }

  /** Queries [start, start + count) of the pool's fixed sequence (generated on first use). */
  batch(start: number, count: number): QueryBatch {
    while (this.items.length < start + count) this.items.push(this.make());
    const dim = this.base.dim;
    const data = new Float32Array(count * dim);
    const kth = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      data.set(this.items[start + i].vec, i * dim);
      kth[i] = this.items[start + i].kth;
    }
    return { queries: { data, n: count, dim }, kth };
  }

  private gauss(): number {
    const u = 1 - this.rng();
    const v = this.rng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  private make(): { vec: Float32Array; kth: number } {
    const { base, sources } = this;
    const dim = base.dim;
    const s = Math.floor(this.rng() * sources.n);
    let nn = this.nnL2.get(s);
    if (nn === undefined) {
      nn = Infinity;
      for (let j = 0; j < base.n; j++) nn = Math.min(nn, distance('l2', sources.data, s, base.data, j, dim));
      this.nnL2.set(s, nn);
    }
    const sigma = this.alpha * Math.sqrt(Math.max(nn, 1e-12) / dim);
    const vec = new Float32Array(dim);
    for (let c = 0; c < dim; c++) vec[c] = sources.data[s * dim + c] + sigma * this.gauss();
    if (this.metric === 'angular') {
      let norm = 0;
      for (let c = 0; c < dim; c++) norm += vec[c] * vec[c];
      norm = Math.sqrt(norm) || 1;
      for (let c = 0; c < dim; c++) vec[c] /= norm;
    }
    // k smallest true distances, by insertion into a sorted list of k.
    const best = new Float64Array(this.k).fill(Infinity);
    for (let j = 0; j < base.n; j++) {
      const d = distance(this.metric, vec, 0, base.data, j, dim);
      if (d >= best[this.k - 1]) continue;
      let i = this.k - 1;
      while (i > 0 && best[i - 1] > d) {
        best[i] = best[i - 1];
        i--;
      }
      best[i] = d;
    }
    return { vec, kth: best[this.k - 1] };
  }
}
