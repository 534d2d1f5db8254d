import { UserError } from '../errors.ts';
import type { LabelSets } from './labels.ts';
import type { QueryFilter } from './filter.ts';

/** Distance metrics. Distances are the metric's own: squared L2; 1 - cosine; negative inner product. */
export type Metric = 'l2' | 'ip' | 'angular';
export const METRICS: readonly Metric[] = ['l2', 'ip', 'angular'];
/** How every kernel's `metric` / `METRIC` value encodes the metric. */
export const METRIC_CODE: Record<Metric, number> = { l2: 0, ip: 1, angular: 2 };

/** Row-major float32 vectors: `data[i * dim + j]`. */
export interface VectorSet {
  data: Float32Array;
  n: number;
  dim: number;
}

/** Neighbour lists, row-major: `ids[q * k + j]`, ascending distance. */
export interface Neighbors {
  ids: Int32Array;
  /** Distances in the metric's own units; absent when a file carries ids only (.ivecs ground truth). */
  distances?: Float32Array;
  nq: number;
  k: number;
}

/** A loaded dataset: base vectors, queries, and optional ground truth. */
export interface Dataset {
  name: string;
  metric: Metric;
  base: VectorSet;
  queries: VectorSet;
  groundTruth?: Neighbors;
  /** Where it came from (paths), for reports. */
  source: string;
  /**
   * A filtered evaluation (a dataset setting, src/data/filter.ts): labels per base vector and one
   * filter per query. Ground truth and recall are then the exact top-k among each query's passing
   * vectors, and every system searches with the same filters.
   */
  filter?: DatasetFilter;
}

export interface DatasetFilter {
  labels: LabelSets;
  filters: readonly (QueryFilter | null)[];
  /** What the filters were drawn for, for reports (e.g. "selectivity 0.01 (measured 0.0098)"). */
  description: string;
}

export function parseMetric(value: string, field = 'metric'): Metric {
  const m = value === 'euclidean' ? 'l2' : value === 'cosine' ? 'angular' : value === 'dot' ? 'ip' : value;
  if ((METRICS as readonly string[]).includes(m)) return m as Metric;
  throw new UserError(`${field}: unknown metric '${value}'; allowed: l2, ip, angular (aliases euclidean, dot, cosine)`);
}
