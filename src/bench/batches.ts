/**
 * Batch sizes in the bench (`crinn bench --batch 1,100,1000,10000`): the queries are answered in
 * consecutive search calls of at most `batch` queries each, the harness's clock around every call.
 * A repetition's time is the sum of its calls; QPS = queries / that time. Per-call latency
 * percentiles (p50/p95/p99, milliseconds) are what a batch of 1 is read for.
 */
import { UserError } from '../errors.ts';
import type { VectorSet } from '../data/types.ts';
import { median, quantiles } from './stats.ts';
import type { BenchPoint, BenchResult } from './schema.ts';
import { formatQps, formatTable } from './table.ts';

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
}

export interface BatchedTiming {
  /** Seconds of each timed repetition (its calls summed). */
  seconds: number[];
  median: number;
  /** Per-call latency over every timed call, in milliseconds. */
  latencyMs: Latency;
  /** The ids of the last repetition, nq x k. */
  ids: Int32Array;
}

/** `--batch 1,100,1000`: distinct positive integers, ascending. */
export function parseBatchList(value: string, flag = '--batch'): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p) || Number(p) < 1) throw new UserError(`${flag}: '${p}' is not a positive integer; expected a comma-separated list of batch sizes, e.g. 1,100,1000,10000`);
    if (out.includes(Number(p))) throw new UserError(`${flag}: batch size ${p} is listed twice`);
    out.push(Number(p));
  }
  return out.sort((a, b) => a - b);
}

/** Rows [start, end) of a set, without copying. */
export function rowsOf(set: VectorSet, start: number, end: number): VectorSet {
  return { data: set.data.subarray(start * set.dim, end * set.dim), n: end - start, dim: set.dim };
}

/**
 * Times `search` over all queries in calls of at most `batch`, `reps` times after `warmup`
 * untimed passes. `search` returns nq x k ids for the queries it was given.
 */
export async function measureBatched(search: (q: VectorSet) => Promise<Int32Array>, queries: VectorSet, k: number, batch: number, opts: { reps: number; warmup?: number }): Promise<BatchedTiming> {
  if (!Number.isInteger(batch) || batch < 1) throw new UserError(`batch: must be a positive integer, got ${batch}`);
  const warmup = opts.warmup ?? 1;
  const calls: number[] = [];
  const seconds: number[] = [];
  let ids = new Int32Array(queries.n * k);
  for (let rep = 0; rep < warmup + opts.reps; rep++) {
    const timed = rep >= warmup;
    let total = 0;
    const out = new Int32Array(queries.n * k);
    for (let q0 = 0; q0 < queries.n; q0 += batch) {
      const q1 = Math.min(queries.n, q0 + batch);
      const t0 = performance.now();
      const got = await search(rowsOf(queries, q0, q1));
      const ms = performance.now() - t0;
      if (!(got instanceof Int32Array) || got.length !== (q1 - q0) * k) {
        throw new Error(`search of a batch of ${q1 - q0} returned ${got instanceof Int32Array ? got.length : typeof got} ids, expected an Int32Array of ${q1 - q0} x ${k}`);
      }
      out.set(got, q0 * k);
      total += ms;
      if (timed) calls.push(ms);
    }
    if (timed) seconds.push(total / 1000);
    ids = out;
  }
  const [p50, p95, p99] = quantiles(calls, [0.5, 0.95, 0.99]);
  return { seconds, median: median(seconds), latencyMs: { p50, p95, p99 }, ids };
}

/** The cheapest point (highest QPS) at recall >= `recall`, or undefined. */
function cheapestAt(points: readonly BenchPoint[], recall: number): BenchPoint | undefined {
  return points.filter((p) => p.recall >= recall).sort((a, b) => b.qps - a.qps)[0];
}

const ms = (x: number | undefined): string => (x === undefined ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/**
 * One row per (batch size, system): QPS at recall 0.90 / 0.95, AUC, and the per-call latency of
 * the fastest point at recall >= 0.95 (the figure a batch of 1 is read for).
 */
export function renderBatchTable(results: readonly BenchResult[]): string {
  const rows: string[][] = [];
  for (const r of results) {
    for (const s of r.systems) {
      const at95 = cheapestAt(s.points, 0.95);
      const lat = at95?.latencyMs;
      rows.push([String(r.batch ?? r.dataset.nq), s.name, formatQps(s.summary.qpsAt90), formatQps(s.summary.qpsAt95), formatQps(s.summary.auc), ms(lat?.p50), ms(lat?.p95), ms(lat?.p99), s.error ? `error: ${s.error}` : '']);
    }
  }
  return formatTable(['batch', 'system', 'QPS@0.90', 'QPS@0.95', 'AUC', 'p50 ms@0.95', 'p95 ms', 'p99 ms', 'note'], rows, ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l']);
}
