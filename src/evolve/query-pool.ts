/**
 * The evaluator's queries: each one distinct and no near-copy of another, so that nothing a child
 * remembers from earlier calls helps it answer a later one (docs/ARCHITECTURE.md "The evaluator").
 * The pool is the dataset's own queries, then base rows in a seeded order, each row once,
 * perturbed by noise of half its nearest-neighbour distance: the row's neighbourhood is the
 * workload (like a held-out row, the test sets of ann-benchmarks), yet the query is not the row.
 * Two queries are as far apart as their sources, never near-copies of one source (the noisy copies
 * of 100 queries this replaced let a host answer from the nearest earlier query with 99% hits).
 * Ground truth (each query's k-th true distance) is computed here, in the parent, and never sent:
 * on the GPU where the evaluator opened one (`prepare`, pool-truth.ts), else by CPU scans.
 * A filtered evaluation (pool-filter.ts) gives query i the filter `filters.of(i)`: its truth is the
 * k-th distance among the rows that filter passes, and its batch carries the filters to the search.
 */
import { distance } from '../data/metric.ts';
import type { Metric, VectorSet } from '../data/types.ts';
import { shuffle } from '../bench/sweep.ts';
import type { PoolTruth } from './pool-truth.ts';
import type { QueryFilter } from '../data/filter.ts';
import type { PoolFilters } from './pool-filter.ts';

export interface QueryBatch {
  queries: VectorSet;
  /** k-th smallest true distance per query (recallAtK's `truth`; under a filter, among its passing rows). */
  kth: Float32Array;
  /** A filtered evaluation: each query's filter, and the pool's labels and passing sets. */
  filter?: { filters: QueryFilter[]; sets: PoolFilters };
}

export class QueryPool {
  private readonly items: { vec: Float32Array; kth: number }[] = [];
  private readonly base: VectorSet;
  private readonly sources: VectorSet;
  private readonly metric: Metric;
  private readonly k: number;
  private readonly rng: () => number;
  private readonly alpha: number;
  private readonly rowOrder: number[];
  private readonly queryOrder: number[];
  /** A filtered evaluation's filters (undefined: unfiltered). */
  readonly filters: PoolFilters | undefined;

  /**
   * `alpha`: noise norm as a fraction of the source row's nearest-neighbour L2 distance; 0.5 keeps
   * the row nearest to its query while the query stays a point of its own. `filters`: a filtered
   * evaluation (query i gets filters.of(i)); the queries themselves are the unfiltered pool's.
   */
  constructor(base: VectorSet, sources: VectorSet, metric: Metric, k: number, rng: () => number, alpha = 0.5, filters?: PoolFilters) {
    this.filters = filters;
    this.base = base;
    this.sources = sources;
    this.metric = metric;
    this.k = k;
    this.rng = rng;
    this.alpha = alpha;
    this.queryOrder = shuffle(Array.from({ length: sources.n }, (_, i) => i), rng);
    this.rowOrder = shuffle(Array.from({ length: base.n }, (_, i) => i), rng);
  }

  /** Distinct queries the pool holds: each is handed to a system at most once. */
  get size(): number {
    return this.sources.n + this.base.n;
  }

  /** Queries [start, start + count) of the pool's fixed sequence (generated on first use). */
  batch(start: number, count: number): QueryBatch {
    if (start < 0 || count < 0 || start + count > this.size) throw new RangeError(`query pool: queries [${start}, ${start + count}) asked of a pool of ${this.size}`);
    while (this.items.length < start + count) this.items.push(this.make(this.items.length));
    const dim = this.base.dim;
    const data = new Float32Array(count * dim);
    const kth = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      data.set(this.items[start + i].vec, i * dim);
      kth[i] = this.items[start + i].kth;
    }
    const f = this.filters;
    return { queries: { data, n: count, dim }, kth, ...(f ? { filter: { filters: Array.from({ length: count }, (_, i) => f.of(start + i)), sets: f } } : {}) };
  }

  private gauss(): number {
    const u = 1 - this.rng();
    const v = this.rng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * Generates queries [generated, end) in one pass through `truth` (the GPU exact kNN, in a block):
   * the same queries, drawn in the same order from the same stream, as `batch` makes one by one.
   */
  async prepare(end: number, truth: PoolTruth): Promise<void> {
    end = Math.min(end, this.size);
    const from = this.items.length;
    if (end <= from) return;
    const idx = Array.from({ length: end - from }, (_, j) => from + j);
    const rows = idx.filter((i) => i >= this.sources.n).map((i) => this.rowOrder[i - this.sources.n]);
    const nn = await truth.rowNn(rows);
    let r = 0;
    const vecs = idx.map((i) => this.vector(i, i >= this.sources.n ? nn[r++] : 0));
    const dim = this.base.dim;
    const data = new Float32Array(vecs.length * dim);
    vecs.forEach((v, j) => data.set(v, j * dim));
    const f = this.filters;
    const kth = await truth.kth({ data, n: vecs.length, dim }, f ? { filters: idx.map((i) => f.of(i)), sets: f } : undefined);
    vecs.forEach((vec, j) => this.items.push({ vec, kth: kth[j] }));
  }

  private make(i: number): { vec: Float32Array; kth: number } {
    let nn = 0;
    if (i >= this.sources.n) {
      const { base } = this;
      const row = this.rowOrder[i - this.sources.n];
      nn = Infinity;
      for (let j = 0; j < base.n; j++) if (j !== row) nn = Math.min(nn, distance('l2', base.data, row, base.data, j, base.dim));
    }
    const vec = this.vector(i, nn);
    return { vec, kth: this.kthDistance(vec, this.filters ? this.filters.passing(this.filters.of(i)) : null) };
  }

  /** Query i: a dataset query, or base row's perturbed copy at noise scale from its nearest-neighbour distance `nn`. */
  private vector(i: number, nn: number): Float32Array {
    const { base, sources } = this;
    const dim = base.dim;
    let vec: Float32Array;
    if (i < sources.n) {
      const s = this.queryOrder[i];
      vec = sources.data.slice(s * dim, (s + 1) * dim);
    } else {
      const row = this.rowOrder[i - sources.n];
      if (!Number.isFinite(nn)) nn = 1; // a one-row base
      const sigma = this.alpha * Math.sqrt(Math.max(nn, 1e-12) / dim);
      vec = new Float32Array(dim);
      for (let c = 0; c < dim; c++) vec[c] = base.data[row * dim + c] + sigma * this.gauss();
      if (this.metric === 'angular') {
        let norm = 0;
        for (let c = 0; c < dim; c++) norm += vec[c] * vec[c];
        norm = Math.sqrt(norm) || 1;
        for (let c = 0; c < dim; c++) vec[c] /= norm;
      }
    }
    return vec;
  }

  /** k smallest true distances (among `among`'s rows when given), by insertion into a sorted list of k; the k-th is kept. */
  private kthDistance(vec: Float32Array, among: Uint32Array | null): number {
    const { base } = this;
    const best = new Float64Array(this.k).fill(Infinity);
    const m = among ? among.length : base.n;
    for (let t = 0; t < m; t++) {
      const j = among ? among[t] : t;
      const d = distance(this.metric, vec, 0, base.data, j, base.dim);
      if (d >= best[this.k - 1]) continue;
      let i = this.k - 1;
      while (i > 0 && best[i - 1] > d) {
        best[i] = best[i - 1];
        i--;
      }
      best[i] = d;
    }
    return best[this.k - 1];
  }
}
