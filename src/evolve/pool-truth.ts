/**
 * Where the query pool's exact figures come from (query-pool.ts): each source row's nearest-neighbour
 * L2 distance (the noise scale of its query) and each fresh query's k-th true distance (recall's
 * truth). On the CPU that is queries x n x d in the parent per evaluation, hours at 1M; on the GPU it
 * is the project's exact kNN (src/data/exact-knn.ts), in blocks. Row distances are a function of the
 * base alone, so they are cached by content (the base's fingerprint and the row) across evaluations
 * of one process; a query's k-th distance is cached by the query's bytes.
 */
import { createHash } from 'node:crypto';
import { openGpu, type GpuContext } from '../gpu/device.ts';
import type { AdapterQuery } from '../gpu/adapters.ts';
import { GpuBruteForce, type ExactFilter } from '../data/exact-knn.ts';
import { distance } from '../data/metric.ts';
import type { Metric, VectorSet } from '../data/types.ts';
import type { QueryFilter } from '../data/filter.ts';

/**
 * A filtered evaluation's queries (pool-filter.ts): one filter per query, and the rows each
 * filter passes (ascending ids; as a bitmap for the GPU mask). Truth is then the k-th distance
 * among the passing rows (Infinity where fewer than k pass).
 */
export interface TruthFilter {
  filters: readonly QueryFilter[];
  sets: { passing(f: QueryFilter): Uint32Array; bitmap(f: QueryFilter): Uint32Array };
}

export interface PoolTruth {
  /** 'gpu' or 'cpu', for reports. */
  readonly kind: 'gpu' | 'cpu';
  /** Nearest-neighbour L2 distance (squared, the metric's units) of each base row to another row; Infinity for a one-row base. */
  rowNn(rows: readonly number[]): Promise<Float64Array>;
  /** k-th smallest true distance of each query (metric units); with `filter`, among the rows its filter passes. */
  kth(queries: VectorSet, filter?: TruthFilter): Promise<Float64Array>;
  close(): void;
}

/** The CPU scans (the pool's original path), kept for when no GPU is open. */
export function cpuPoolTruth(base: VectorSet, metric: Metric, k: number): PoolTruth {
  return {
    kind: 'cpu',
    async rowNn(rows) {
      return Float64Array.from(rows, (row) => {
        let nn = Infinity;
        for (let j = 0; j < base.n; j++) if (j !== row) nn = Math.min(nn, distance('l2', base.data, row, base.data, j, base.dim));
        return nn;
      });
    },
    async kth(queries, filter) {
      const out = new Float64Array(queries.n);
      const best = new Float64Array(k);
      for (let q = 0; q < queries.n; q++) {
        best.fill(Infinity);
        // Under a filter, a scan of the passing rows only.
        const among = filter ? filter.sets.passing(filter.filters[q]) : null;
        const m = among ? among.length : base.n;
        for (let t = 0; t < m; t++) {
          const j = among ? among[t] : t;
          const d = distance(metric, queries.data, q, base.data, j, base.dim);
          if (d >= best[k - 1]) continue;
          let i = k - 1;
          while (i > 0 && best[i - 1] > d) {
            best[i] = best[i - 1];
            i--;
          }
          best[i] = d;
        }
        out[q] = best[k - 1];
      }
      return out;
    },
    close() {},
  };
}

const rowNnCache = new Map<string, number>();
const kthCache = new Map<string, number>();
const CACHE_MAX = 1 << 20;

/** A filter's part of a k-th distance's cache key. */
function filterKey(f: QueryFilter | undefined): string {
  if (f === undefined) return '';
  if ('bitmap' in f) return `:bitmap=${createHash('sha1').update(new Uint8Array(f.bitmap.buffer, f.bitmap.byteOffset, f.bitmap.byteLength)).digest('hex')}`;
  return 'anyOf' in f ? `:anyOf=${f.anyOf.join(',')}` : `:allOf=${f.allOf.join(',')}`;
}

/** Masked rows of the filtered exact kNN come back as knn_mask.wgsl's FAR (3e38): no k-th passing row. */
const FAR = 1e38;

function remember(cache: Map<string, number>, key: string, v: number): void {
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(key, v);
}

/**
 * The GPU exact kNN over the base (uploaded once, in binding-sized chunks). `fingerprint` names the
 * base's content (data/fingerprint.ts) for the row cache.
 */
export function gpuPoolTruth(ctx: GpuContext, base: VectorSet, metric: Metric, k: number, fingerprint: string): PoolTruth {
  // Two searchers: the noise scale is L2 whatever the metric; the truth is in the metric's units.
  const l2 = new GpuBruteForce(ctx, base, 'l2');
  const own = metric === 'l2' ? l2 : new GpuBruteForce(ctx, base, metric);
  const rows = (ids: readonly number[]): VectorSet => {
    const data = new Float32Array(ids.length * base.dim);
    ids.forEach((r, i) => data.set(base.data.subarray(r * base.dim, (r + 1) * base.dim), i * base.dim));
    return { data, n: ids.length, dim: base.dim };
  };
  return {
    kind: 'gpu',
    async rowNn(ids) {
      const out = new Float64Array(ids.length);
      const todo = ids.map((r, i) => ({ r, i, key: `${fingerprint}:${r}` })).filter((x) => {
        const hit = rowNnCache.get(x.key);
        if (hit !== undefined) out[x.i] = hit;
        return hit === undefined;
      });
      if (todo.length === 0) return out;
      if (base.n < 2) {
        for (const x of todo) out[x.i] = Infinity;
        return out;
      }
      // Two nearest: the row itself (or an exact duplicate, whose distance 0 is the CPU scan's answer too) and the next.
      const nb = await l2.search(rows(todo.map((x) => x.r)), 2);
      todo.forEach((x, j) => {
        const d = nb.ids[2 * j] === x.r ? nb.distances![2 * j + 1] : nb.distances![2 * j];
        out[x.i] = d;
        remember(rowNnCache, x.key, d);
      });
      return out;
    },
    async kth(queries, filter) {
      const out = new Float64Array(queries.n);
      const keys = Array.from({ length: queries.n }, (_, q) => {
        const bytes = queries.data.subarray(q * queries.dim, (q + 1) * queries.dim);
        return `${fingerprint}:${metric}:${k}:${createHash('sha1').update(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)).digest('hex')}${filterKey(filter?.filters[q])}`;
      });
      const todo = keys.map((key, q) => ({ key, q })).filter((x) => {
        const hit = kthCache.get(x.key);
        if (hit !== undefined) out[x.q] = hit;
        return hit === undefined;
      });
      if (todo.length === 0) return out;
      const data = new Float32Array(todo.length * queries.dim);
      todo.forEach((x, i) => data.set(queries.data.subarray(x.q * queries.dim, (x.q + 1) * queries.dim), i * queries.dim));
      const r = await own.search({ data, n: todo.length, dim: queries.dim }, k, filter ? exactFilter(todo.map((x) => filter.filters[x.q]), filter.sets) : undefined);
      todo.forEach((x, i) => {
        const d = r.distances![i * k + k - 1];
        out[x.q] = d >= FAR ? Infinity : d;
        remember(kthCache, x.key, out[x.q]);
      });
      return out;
    },
    close() {
      l2.destroy();
      if (own !== l2) own.destroy();
    },
  };
}

/** The exact kNN's mask: each distinct filter's bitmap once, and each query's row among them. */
function exactFilter(filters: readonly QueryFilter[], sets: TruthFilter['sets']): ExactFilter {
  const rows = new Map<QueryFilter, number>();
  const bitmaps: Uint32Array[] = [];
  const rowOf = Uint32Array.from(filters, (f) => {
    let r = rows.get(f);
    if (r === undefined) rows.set(f, (r = bitmaps.push(sets.bitmap(f)) - 1));
    return r;
  });
  return { bitmaps, rowOf };
}

/** Below this many base values (n x dim) the CPU scans are cheap enough (siftsmall-5k: 640k) and no GPU is opened for them. */
export const GPU_TRUTH_MIN_VALUES = 1 << 24;

/**
 * The evaluator's truth source: 'auto' opens a GPU (the evaluation's adapter) for a base of at least
 * GPU_TRUTH_MIN_VALUES values and falls back to the CPU where none opens; 'gpu' requires one; 'cpu'
 * never opens one. The returned truth owns the context it opened (close() destroys it).
 */
export async function openPoolTruth(ds: { base: VectorSet; metric: Metric; fingerprint: string }, k: number, mode: 'auto' | 'cpu' | 'gpu', adapter: AdapterQuery | undefined, log: (line: string) => void): Promise<PoolTruth> {
  if (mode === 'cpu' || (mode === 'auto' && ds.base.n * ds.base.dim < GPU_TRUTH_MIN_VALUES)) return cpuPoolTruth(ds.base, ds.metric, k);
  let ctx: GpuContext;
  try {
    ctx = await openGpu(adapter ?? {});
  } catch (err) {
    if (mode === 'gpu') throw err;
    log(`query truth on the CPU (no GPU opened in the evaluator: ${(err as Error).message})`);
    return cpuPoolTruth(ds.base, ds.metric, k);
  }
  const t = gpuPoolTruth(ctx, ds.base, ds.metric, k, ds.fingerprint);
  return { ...t, close: () => { t.close(); ctx.destroy(); } };
}
