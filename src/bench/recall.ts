/**
 * Distance-aware recall@k (ann-benchmarks style, DESIGN.md "The reward"): a returned id counts when
 * it is in range, not a repeat within its query's list, and its true distance is within
 * d_k + 1e-3 + 1e-6 * |d_k| of the k-th smallest true distance. True distances are always recomputed
 * here from the vectors; a kernel's own distances are never read.
 */
import { UserError } from '../errors.ts';
import { distance } from '../data/metric.ts';
import type { Metric, Neighbors, VectorSet } from '../data/types.ts';

export interface RecallResult {
  /** Mean of the per-query recalls. */
  recall: number;
  /** Counted ids / k, per query. */
  perQuery: Float64Array;
}

/** The tolerance added to d_k before comparing; exported so reports can state it. */
export function recallThreshold(dk: number): number {
  return dk + 1e-3 + 1e-6 * Math.abs(dk);
}

function checkShapes(base: VectorSet, queries: VectorSet, k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new UserError(`recall: k must be a positive integer, got ${k}`);
  if (k > base.n) throw new UserError(`recall: k=${k} is larger than the base set (${base.n} vectors)`);
  if (base.dim !== queries.dim) throw new UserError(`recall: base has dim ${base.dim} but queries have dim ${queries.dim}`);
}

/**
 * The k-th smallest true distance per query, computed once per dataset and reused by every sweep
 * point. Uses the ground truth's distances when present, else recomputes them from its ids; either
 * way the first gt.k entries are sorted here, so an unsorted file cannot shift d_k.
 */
export function groundTruthKthDistances(gt: Neighbors, base: VectorSet, queries: VectorSet, metric: Metric, k: number): Float32Array {
  checkShapes(base, queries, k);
  if (gt.nq !== queries.n) throw new UserError(`recall: ground truth has ${gt.nq} queries but the query set has ${queries.n}`);
  if (gt.k < k) throw new UserError(`recall: ground truth has ${gt.k} neighbours per query, fewer than k=${k}`);
  const out = new Float32Array(gt.nq);
  const row = new Float64Array(gt.k);
  for (let q = 0; q < gt.nq; q++) {
    const off = q * gt.k;
    for (let j = 0; j < gt.k; j++) {
      if (gt.distances) {
        row[j] = gt.distances[off + j];
      } else {
        const id = gt.ids[off + j];
        if (!(id >= 0 && id < base.n)) throw new UserError(`recall: ground truth id ${id} for query ${q} is outside [0, ${base.n})`);
        row[j] = distance(metric, queries.data, q, base.data, id, base.dim);
      }
      if (!Number.isFinite(row[j])) throw new UserError(`recall: ground truth distance ${row[j]} for query ${q} is not finite`);
    }
    row.sort();
    out[q] = row[k - 1];
  }
  return out;
}

/**
 * Recall@k of `result` against precomputed d_k per query (`kth`, from groundTruthKthDistances) or
 * a ground-truth Neighbors. Only the first k ids of each result row are considered; a row with
 * fewer than k entries simply scores lower. Costs nq * k distance evaluations.
 */
export function recallAtK(result: Neighbors, base: VectorSet, queries: VectorSet, metric: Metric, truth: Float32Array | Neighbors, k = 10, accept?: (q: number, id: number) => boolean): RecallResult {
  checkShapes(base, queries, k);
  const kth = truth instanceof Float32Array ? truth : groundTruthKthDistances(truth, base, queries, metric, k);
  if (kth.length !== queries.n) throw new UserError(`recall: ${kth.length} k-th distances for ${queries.n} queries`);
  if (result.nq !== queries.n) throw new UserError(`recall: the search returned ${result.nq} rows for ${queries.n} queries`);
  if (result.ids.length < result.nq * result.k) throw new UserError(`recall: result ids hold ${result.ids.length} entries, expected ${result.nq} x ${result.k}`);
  const m = Math.min(k, result.k);
  const perQuery = new Float64Array(queries.n);
  const seen = new Set<number>();
  let total = 0;
  for (let q = 0; q < queries.n; q++) {
    const off = q * result.k;
    const limit = recallThreshold(kth[q]);
    seen.clear();
    let hits = 0;
    for (let j = 0; j < m; j++) {
      const id = result.ids[off + j];
      // Under a filter (`accept`), a close id the filter rejects is no hit.
      if (!(id >= 0 && id < base.n) || seen.has(id) || (accept && !accept(q, id))) continue;
      seen.add(id);
      if (distance(metric, queries.data, q, base.data, id, base.dim) <= limit) hits++;
    }
    perQuery[q] = hits / k;
    total += perQuery[q];
  }
  return { recall: queries.n === 0 ? 0 : total / queries.n, perQuery };
}
