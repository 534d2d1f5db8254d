import type { Metric, VectorSet, Neighbors } from './types.ts';
import { UserError } from '../errors.ts';

/** Distance between row `i` of `a` and row `j` of `b`, in the metric's own units (CPU reference). */
export function distance(metric: Metric, a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  const ao = i * dim;
  const bo = j * dim;
  if (metric === 'l2') {
    let s = 0;
    for (let t = 0; t < dim; t++) {
      const d = a[ao + t] - b[bo + t];
      s += d * d;
    }
    return s;
  }
  let dot = 0;
  for (let t = 0; t < dim; t++) dot += a[ao + t] * b[bo + t];
  // Angular vectors are stored L2-normalised, so 1 - dot is the cosine distance.
  return metric === 'ip' ? -dot : 1 - dot;
}

/** L2-normalise every row in place; throws on a zero row (cosine is undefined there). */
export function normalizeRows(set: VectorSet, what: string): void {
  const { data, n, dim } = set;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += data[i * dim + t] * data[i * dim + t];
    if (!(s > 0)) throw new UserError(`${what}: vector ${i} has zero length; angular (cosine) distance is undefined for it`);
    const inv = 1 / Math.sqrt(s);
    for (let t = 0; t < dim; t++) data[i * dim + t] *= inv;
  }
}

/** Exact kNN by brute force on the CPU: the oracle for tests. Ties break by smaller id. */
export function bruteForceKnn(base: VectorSet, queries: VectorSet, k: number, metric: Metric): Neighbors {
  const { n, dim } = base;
  const ids = new Int32Array(queries.n * k);
  const distances = new Float32Array(queries.n * k);
  const all = new Float64Array(n);
  const order = new Int32Array(n);
  for (let q = 0; q < queries.n; q++) {
    for (let i = 0; i < n; i++) {
      all[i] = Math.fround(distance(metric, queries.data, q, base.data, i, dim));
      order[i] = i;
    }
    const sorted = Array.from(order).sort((x, y) => all[x] - all[y] || x - y);
    for (let j = 0; j < k; j++) {
      ids[q * k + j] = sorted[j];
      distances[q * k + j] = all[sorted[j]];
    }
  }
  return { ids, distances, nq: queries.n, k };
}

/** Throws a UserError naming the first row holding NaN or +-Inf; `rowBase` offsets the reported row index. */
export function assertFiniteRows(set: VectorSet, what: string, rowBase = 0): void {
  const { data, n, dim } = set;
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < dim; t++) {
      const v = data[i * dim + t];
      // v - v is NaN exactly for NaN and +-Inf, and is cheaper than Number.isFinite in a hot loop.
      if (v - v !== 0) {
        throw new UserError(`${what}: row ${rowBase + i} has a non-finite value (${v}) at column ${t}`);
      }
    }
  }
}
