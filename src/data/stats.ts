/** Summary statistics of a loaded dataset, for `crinn dataset info` and reports. */
import { createHash } from 'node:crypto';
import type { Dataset, Metric, VectorSet } from './types.ts';

export interface VectorStats {
  n: number;
  dim: number;
  norm: { min: number; max: number; mean: number };
  value: { min: number; max: number; mean: number };
  /** Percentage of exactly-zero values. */
  zeroPercent: number;
  /** Rows identical to an earlier row (exact bytes). */
  duplicateRows: number;
}

export interface DatasetStats {
  name: string;
  source: string;
  metric: Metric;
  base: VectorStats;
  queries: VectorStats;
  /** Queries identical to some base row (they would find themselves at distance 0). */
  queriesInBase: number;
  groundTruth: { nq: number; k: number; hasDistances: boolean } | null;
}

export function vectorStats(set: VectorSet): VectorStats {
  const { data, n, dim } = set;
  let nMin = Infinity, nMax = -Infinity, nSum = 0;
  let vMin = Infinity, vMax = -Infinity, vSum = 0, zeros = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = i * dim, end = t + dim; t < end; t++) {
      const v = data[t];
      s += v * v;
      vSum += v;
      if (v < vMin) vMin = v;
      if (v > vMax) vMax = v;
      if (v === 0) zeros++;
    }
    const norm = Math.sqrt(s);
    nSum += norm;
    if (norm < nMin) nMin = norm;
    if (norm > nMax) nMax = norm;
  }
  const total = n * dim;
  return {
    n,
    dim,
    norm: { min: n ? nMin : 0, max: n ? nMax : 0, mean: n ? nSum / n : 0 },
    value: { min: total ? vMin : 0, max: total ? vMax : 0, mean: total ? vSum / total : 0 },
    zeroPercent: total ? (100 * zeros) / total : 0,
    duplicateRows: countDuplicates(set),
  };
}

function rowKey(set: VectorSet, i: number): string {
  const bytes = new Uint8Array(set.data.buffer, set.data.byteOffset + i * set.dim * 4, set.dim * 4);
  // A 128-bit digest: collisions are not a practical concern at dataset sizes.
  return createHash('md5').update(bytes).digest('base64');
}

function countDuplicates(set: VectorSet): number {
  const seen = new Set<string>();
  let dup = 0;
  for (let i = 0; i < set.n; i++) {
    const key = rowKey(set, i);
    if (seen.has(key)) dup++;
    else seen.add(key);
  }
  return dup;
}

export function datasetStats(ds: Dataset): DatasetStats {
  const baseKeys = new Set<string>();
  for (let i = 0; i < ds.base.n; i++) baseKeys.add(rowKey(ds.base, i));
  let queriesInBase = 0;
  for (let i = 0; i < ds.queries.n; i++) if (baseKeys.has(rowKey(ds.queries, i))) queriesInBase++;
  const gt = ds.groundTruth;
  return {
    name: ds.name,
    source: ds.source,
    metric: ds.metric,
    base: vectorStats(ds.base),
    queries: vectorStats(ds.queries),
    queriesInBase,
    groundTruth: gt ? { nq: gt.nq, k: gt.k, hasDistances: gt.distances !== undefined } : null,
  };
}

function num(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e5 || a < 1e-3 ? x.toExponential(3) : Number(x.toPrecision(5)).toString();
}

/** Human-readable table. */
export function formatStats(s: DatasetStats): string {
  const rows: [string, string, string][] = [
    ['', 'base', 'queries'],
    ['shape', `${s.base.n} x ${s.base.dim}`, `${s.queries.n} x ${s.queries.dim}`],
    ['norm min / mean / max', triple(s.base.norm), triple(s.queries.norm)],
    ['value min / mean / max', triple(s.base.value), triple(s.queries.value)],
    ['zero values', `${s.base.zeroPercent.toFixed(2)}%`, `${s.queries.zeroPercent.toFixed(2)}%`],
    ['duplicate rows', String(s.base.duplicateRows), String(s.queries.duplicateRows)],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const lines = [
    `dataset      ${s.name}`,
    `source       ${s.source}`,
    `metric       ${s.metric}`,
    `ground truth ${s.groundTruth ? `${s.groundTruth.nq} x ${s.groundTruth.k}${s.groundTruth.hasDistances ? ' (ids + distances)' : ' (ids)'}` : 'none'}`,
    `queries found in base ${s.queriesInBase}`,
    '',
    ...rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`.trimEnd()),
  ];
  return lines.join('\n');
}

function triple(t: { min: number; max: number; mean: number }): string {
  return `${num(t.min)} / ${num(t.mean)} / ${num(t.max)}`;
}
