/**
 * Is a search's answer valid? The evaluator's checks on every batch a system returns (ids and
 * distances); the recall is scored elsewhere. A wrong answer fails the variant at its stage.
 */
import type { Metric, VectorSet } from '../data/types.ts';
import { distance } from '../data/metric.ts';
import { codecFor, type VectorStorage } from '../data/codecs/registry.ts';
import type { QueryFilter } from '../data/filter.ts';
import { StageFail } from './eval-system.ts';

/**
 * The base rows as an index stored with `storage` holds them, which its search's distances are
 * computed on: the codec's round (decode of encode; f16: rounded to f16, f32: the rows themselves).
 * The evaluator checks a system's distances against these (checkResults).
 */
export function rowsAsSearched(base: VectorSet, storage: VectorStorage): VectorSet {
  const data = codecFor(storage).round(base.data);
  return data === base.data ? base : { ...base, data };
}

/**
 * A search's answer: ids in range [-1, n) with no repeats within a row, and each returned id's
 * distance the true one (finite, within 1e-3 relative of the metric's distance recomputed here,
 * rows ascending). Only ids are scored; distances are checked because they are part of what a
 * search returns to its user (`crinn search` writes them), so NaN or made-up distances are a wrong answer.
 */
export function checkResults(value: { ids?: unknown; distances?: unknown } | undefined, queries: VectorSet, k: number, base: VectorSet, metric: Metric): Int32Array {
  const nq = queries.n;
  const ids = checkIds(value?.ids, nq, k, base.n);
  const dist = value?.distances;
  if (!(dist instanceof Float32Array) || dist.length !== nq * k) {
    throw new StageFail('correctness', `expected ${nq} x ${k} distances as a Float32Array, got ${dist instanceof Float32Array ? dist.length : typeof dist}`);
  }
  const tol = (d: number) => 1e-3 * (1 + Math.abs(d));
  for (let q = 0; q < nq; q++) {
    let prev = -Infinity;
    for (let j = 0; j < k; j++) {
      const id = ids[q * k + j];
      if (id === -1) continue;
      const d = dist[q * k + j];
      const exact = distance(metric, queries.data, q, base.data, id, base.dim);
      if (!Number.isFinite(d) || Math.abs(d - exact) > tol(exact)) throw new StageFail('correctness', `query ${q} result ${j}: distance ${d} of id ${id} is not its true distance ${exact.toPrecision(6)}`);
      if (d < prev - tol(prev)) throw new StageFail('correctness', `query ${q}: distances not ascending at result ${j} (${d} after ${prev})`);
      prev = d;
    }
  }
  return ids;
}

/** Ids in range [-1, n) and no repeats within a row; else the variant fails correctness. */
export function checkIds(ids: unknown, nq: number, k: number, n: number): Int32Array {
  if (!(ids instanceof Int32Array) || ids.length !== nq * k) {
    throw new StageFail('correctness', `expected ${nq} x ${k} ids as an Int32Array, got ${ids instanceof Int32Array ? ids.length : typeof ids}`);
  }
  const seen = new Set<number>();
  for (let q = 0; q < nq; q++) {
    seen.clear();
    for (let j = 0; j < k; j++) {
      const v = ids[q * k + j];
      if (v < -1 || v >= n) throw new StageFail('correctness', `query ${q} result ${j}: id ${v} is outside [0, ${n}) (-1 = none)`);
      if (v === -1) continue;
      if (seen.has(v)) throw new StageFail('correctness', `query ${q}: id ${v} returned twice`);
      seen.add(v);
    }
  }
  return ids;
}

/** A filter as an error message shows it (label lists cut at 8). */
function filterText(f: QueryFilter): string {
  if ('bitmap' in f) return 'bitmap';
  const [kind, list] = 'anyOf' in f ? ['anyOf', f.anyOf] : ['allOf', f.allOf];
  return `${kind} [${list.slice(0, 8).join(', ')}${list.length > 8 ? ', ...' : ''}]`;
}

/**
 * A filtered evaluation (pool-filter.ts): every returned id passes its query's filter; an id the
 * filter rejects is a wrong answer, not a miss. A -1 is no answer: recall counts it as a miss (the
 * evaluator's filters pass at least k rows each, so a full answer always exists).
 */
export function checkPassing(ids: Int32Array, k: number, filters: readonly QueryFilter[], sets: { passes(f: QueryFilter, id: number): boolean }): void {
  for (let q = 0; q < filters.length; q++) {
    for (let j = 0; j < k; j++) {
      const id = ids[q * k + j];
      if (id !== -1 && !sets.passes(filters[q], id)) throw new StageFail('correctness', `query ${q} result ${j}: id ${id} does not pass the query's filter (${filterText(filters[q])})`);
    }
  }
}
