/**
 * Filtered search on the GPU (library: `engine.search(queries, k, { filter })`): one filter per
 * query within one batch (src/data/filter.ts: any-of / all-of label sets, raw bitmaps). Per query,
 * the strategy follows its filter's selectivity:
 * - below `bruteForceBelow` (a search param the loop can tune): exact distances over its passing
 *   rows only (the refine and select kernels over the passing ids, from the label postings or the
 *   bitmap), so a 0.1% filter costs 0.1% of a scan and never wanders a graph it cannot use;
 * - otherwise the beam search with the filter predicate inside the kernel
 *   (shaders/filter_labels.wgsl), traversing rejected rows or skipping them (`filterTraversal`).
 * Results hold passing ids only, -1 where fewer than k pass.
 */
import { UserError } from '../errors.ts';
import { bufferScope, readBuffers } from '../gpu/buffers.ts';
import { padRows } from '../gpu/kernel-text.ts';
import { filtersPerQuery, passingIds, Postings, type FilterSpec, type QueryFilter } from '../data/filter.ts';
import type { LabelSets } from '../data/labels.ts';
import type { Neighbors, VectorSet } from '../data/types.ts';
import type { BeamSearchCore } from './beam-core.ts';
import type { SearchParams } from './params.ts';

const NONE = 0xffffffff;
/** filter_labels.wgsl's kinds. */
const KIND = { none: 0, anyOf: 1, allOf: 2, bitmap: 3 } as const;

/** The beam kernel's filter table: 4 header words per query, then each distinct filter's payload once. */
export function filterTable(filters: readonly (QueryFilter | null)[]): Uint32Array {
  const payloadOf = new Map<QueryFilter, { off: number; len: number }>();
  const parts: ArrayLike<number>[] = [];
  let at = filters.length * 4;
  const head = new Uint32Array(filters.length * 4);
  filters.forEach((f, q) => {
    if (f === null) return;
    let p = payloadOf.get(f);
    if (!p) {
      const words = 'bitmap' in f ? f.bitmap : 'anyOf' in f ? f.anyOf : f.allOf;
      p = { off: at, len: words.length };
      parts.push(words);
      at += words.length;
      payloadOf.set(f, p);
    }
    head.set(['bitmap' in f ? KIND.bitmap : 'anyOf' in f ? KIND.anyOf : KIND.allOf, p.off, p.len, 0], q * 4);
  });
  const out = new Uint32Array(Math.max(4, at));
  out.set(head);
  let o = filters.length * 4;
  for (const w of parts) {
    out.set(w, o);
    o += w.length;
  }
  return out;
}

const postingsCache = new WeakMap<LabelSets, Postings>();
function postingsOf(labels: LabelSets | undefined): Postings | undefined {
  if (!labels) return undefined;
  let p = postingsCache.get(labels);
  if (!p) postingsCache.set(labels, (p = new Postings(labels)));
  return p;
}

function rowsOf(set: VectorSet, which: readonly number[]): VectorSet {
  const data = new Float32Array(which.length * set.dim);
  which.forEach((q, i) => data.set(set.data.subarray(q * set.dim, (q + 1) * set.dim), i * set.dim));
  return { data, n: which.length, dim: set.dim };
}

/** Top-k of every query among the rows its filter passes (beam or brute force per query, see above). */
export async function filteredSearch(core: BeamSearchCore, queries: VectorSet, k: number, params: Partial<SearchParams>, spec: FilterSpec): Promise<Neighbors> {
  if (queries.dim !== core.index.dim) throw new UserError(`queries: dimension ${queries.dim} does not match the index's ${core.index.dim}`);
  const n = core.index.n;
  const filters = filtersPerQuery(spec, queries.n, n, core.index.labels);
  const p = core.resolve(k, params);
  const postings = postingsOf(core.index.labels);
  // A filter that passes nothing has 0 <= cap rows: answered empty, no graph walk (unless 0 = never).
  const cap = p.bruteForceBelow > 0 ? Math.max(0, Math.floor(p.bruteForceBelow * n)) : -1;
  const beam: number[] = [];
  const brute: number[] = [];
  const lists: Uint32Array[] = [];
  filters.forEach((f, q) => {
    const ids = cap >= 0 ? passingIds(f, n, postings, cap) : null;
    if (ids) {
      brute.push(q);
      lists.push(ids);
    } else beam.push(q);
  });
  const ids = new Int32Array(queries.n * k).fill(-1);
  const distances = new Float32Array(queries.n * k).fill(Infinity);
  const scatter = (res: Neighbors, which: readonly number[]) => {
    which.forEach((q, i) => {
      ids.set(res.ids.subarray(i * k, (i + 1) * k), q * k);
      if (res.distances) distances.set(res.distances.subarray(i * k, (i + 1) * k), q * k);
    });
  };
  if (beam.length) {
    const sub = beam.length === queries.n ? queries : rowsOf(queries, beam);
    scatter(await core.search(sub, k, params, { filter: { table: filterTable(beam.map((q) => filters[q])) } }), beam);
  }
  if (brute.length) scatter(await exactAmong(core, rowsOf(queries, brute), k, lists), brute);
  for (let j = 0; j < ids.length; j++) if (ids[j] < 0) distances[j] = Infinity;
  return { ids, distances, nq: queries.n, k };
}

/**
 * Exact top-k of each query among its own candidate ids (ascending or not): the refine kernel's
 * distances over the ids (padded with NONE to the longest list), then one selection pass.
 */
export async function exactAmong(core: BeamSearchCore, queries: VectorSet, k: number, lists: readonly Uint32Array[]): Promise<Neighbors> {
  const ctx = core.ctx;
  const r = Math.max(1, ...lists.map((l) => l.length));
  // The refine kernel reads f32 queries at its own width (an int8 index's beam reads a wider code-space form).
  const { data: qdata } = padRows(queries, core.exactDim4);
  const perQuery = Math.max(r * 4, core.exactDim4 * 16);
  const batch = Math.max(1, Math.min(queries.n, Math.floor(ctx.limits.maxStorageBufferBindingSize / perQuery)));
  const ids = new Int32Array(queries.n * k).fill(-1);
  const distances = new Float32Array(queries.n * k).fill(Infinity);
  for (let q0 = 0; q0 < queries.n; q0 += batch) {
    const nq = Math.min(batch, queries.n - q0);
    const cand = new Uint32Array(nq * r).fill(NONE);
    for (let q = 0; q < nq; q++) cand.set(lists[q0 + q], q * r);
    const scope = bufferScope(ctx);
    const mk = scope.make;
    try {
      const qbuf = mk('filter:queries', qdata.subarray(q0 * core.exactDim4 * 4, (q0 + nq) * core.exactDim4 * 4));
      const cbuf = mk('filter:passing', cand);
      const enc = ctx.device.createCommandEncoder({ label: 'filtered-exact' });
      const { dist: sd, ids: si, stride: K } = await core.encodeRerank(enc, scope, 'filter-refine', nq, r, k, qbuf, cbuf);
      ctx.device.queue.submit([enc.finish()]);
      const [ib, db] = await readBuffers(ctx, [si, sd], nq * K * 4);
      const ii = new Int32Array(ib);
      const dd = new Float32Array(db);
      for (let q = 0; q < nq; q++) {
        for (let j = 0; j < k; j++) {
          const v = ii[q * K + j];
          ids[(q0 + q) * k + j] = v < 0 ? -1 : v;
          distances[(q0 + q) * k + j] = v < 0 ? Infinity : dd[q * K + j];
        }
      }
    } finally {
      scope.destroy();
    }
  }
  return { ids, distances, nq: queries.n, k };
}
