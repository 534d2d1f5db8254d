/**
 * Exact kNN as a plain TypeScript loop: the oracle system (one fixed point at recall 1) and the
 * CPU baseline of scripts/bench-knn.ts. Written the way a careful JS programmer would (flat
 * Float32Arrays, 4-way unrolled dot products, a bounded sorted list), with no SIMD or threads.
 */
import type { Dataset, Metric, Neighbors, VectorSet } from '../../data/types.ts';
import { UserError } from '../../errors.ts';
import type { BenchSystem, SystemEnv, SystemOptions } from '../bench-system.ts';
import { insertSorted } from '../../data/topk.ts';

/**
 * The k nearest rows of `base` for every query, ascending distance, ties by smaller id. Distances
 * in the metric's own units (squared L2; 1 - dot for angular, whose rows are normalised; -dot).
 */
export function bruteForceSearch(base: VectorSet, queries: VectorSet, k: number, metric: Metric): Neighbors {
  const { n, dim } = base;
  if (queries.dim !== dim) throw new UserError(`queries: dimension ${queries.dim} does not match the base's ${dim}`);
  if (!(Number.isInteger(k) && k >= 1 && k <= n)) throw new UserError(`k: expected an integer in 1..${n}, got ${k}`);
  const b = base.data;
  const qd = queries.data;
  const ids = new Int32Array(queries.n * k);
  const distances = new Float32Array(queries.n * k);
  const topD = new Float64Array(k);
  const topI = new Int32Array(k);
  const l2 = metric === 'l2';
  const tail = dim & ~3;
  for (let q = 0; q < queries.n; q++) {
    const qo = q * dim;
    let size = 0;
    let worst = Infinity;
    for (let i = 0, bo = 0; i < n; i++, bo += dim) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let t = 0;
      if (l2) {
        for (; t < tail; t += 4) {
          const d0 = qd[qo + t] - b[bo + t];
          const d1 = qd[qo + t + 1] - b[bo + t + 1];
          const d2 = qd[qo + t + 2] - b[bo + t + 2];
          const d3 = qd[qo + t + 3] - b[bo + t + 3];
          s0 += d0 * d0;
          s1 += d1 * d1;
          s2 += d2 * d2;
          s3 += d3 * d3;
        }
        for (; t < dim; t++) {
          const d = qd[qo + t] - b[bo + t];
          s0 += d * d;
        }
      } else {
        for (; t < tail; t += 4) {
          s0 += qd[qo + t] * b[bo + t];
          s1 += qd[qo + t + 1] * b[bo + t + 1];
          s2 += qd[qo + t + 2] * b[bo + t + 2];
          s3 += qd[qo + t + 3] * b[bo + t + 3];
        }
        for (; t < dim; t++) s0 += qd[qo + t] * b[bo + t];
      }
      const sum = s0 + s1 + s2 + s3;
      const d = l2 ? sum : metric === 'ip' ? -sum : 1 - sum;
      if (size === k && !(d < worst)) continue;
      size = insertSorted(topD, topI, size, k, d, i);
      if (size === k) worst = topD[k - 1];
    }
    for (let j = 0; j < k; j++) {
      ids[q * k + j] = topI[j];
      distances[q * k + j] = topD[j];
    }
  }
  return { ids, distances, nq: queries.n, k };
}

export async function createBruteForce(_env: SystemEnv, _o: SystemOptions): Promise<BenchSystem> {
  let base: VectorSet | undefined;
  let metric: Metric = 'l2';
  return {
    name: 'bruteforce',
    kind: 'oracle',
    params: { threads: 1, exact: true },
    efforts: [],
    minEffort: 1,
    maxEffort: 1,
    async build(ds: Dataset) {
      base = ds.base;
      metric = ds.metric;
      return { seconds: 0, params: { metric } };
    },
    async search(queries: VectorSet, k: number) {
      if (!base) throw new Error('bruteforce: search before build');
      return bruteForceSearch(base, queries, k, metric).ids;
    },
    async close() {
      base = undefined;
    },
  };
}
