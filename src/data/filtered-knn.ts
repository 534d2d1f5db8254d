/**
 * Filtered exact kNN on the GPU: the exact top-k among the base rows each query's filter passes
 * (filter.ts), for ground truth and recall under a filter. Every distinct filter becomes one
 * bitmap; knn_mask.wgsl hides the rows it rejects from the selection.
 */
import type { GpuContext } from '../gpu/device.ts';
import { gpuExactKnn, type ExactFilter, type ExactKnnTuning } from './exact-knn.ts';
import { filterBitmap, Postings, type QueryFilter } from './filter.ts';
import type { LabelSets } from './labels.ts';
import type { Metric, Neighbors, VectorSet } from './types.ts';

/** Bitmaps of the distinct filters (by object) and each query's row among them. */
export function exactFilterOf(filters: readonly (QueryFilter | null)[], n: number, labels: LabelSets | undefined): ExactFilter {
  const postings = labels ? new Postings(labels) : undefined;
  const rows = new Map<QueryFilter | null, number>();
  const bitmaps: Uint32Array[] = [];
  const rowOf = new Uint32Array(filters.length);
  filters.forEach((f, q) => {
    let r = rows.get(f);
    if (r === undefined) {
      r = bitmaps.length;
      bitmaps.push(filterBitmap(f, n, postings));
      rows.set(f, r);
    }
    rowOf[q] = r;
  });
  return { bitmaps, rowOf };
}

/** Exact top-k per query among its filter's passing rows (ids -1 where fewer than k pass). */
export async function filteredExactKnn(ctx: GpuContext, base: VectorSet, queries: VectorSet, k: number, metric: Metric, filters: readonly (QueryFilter | null)[], labels: LabelSets | undefined, tuning?: Partial<ExactKnnTuning>): Promise<Neighbors> {
  return gpuExactKnn(ctx, base, queries, k, metric, tuning, exactFilterOf(filters, base.n, labels));
}
