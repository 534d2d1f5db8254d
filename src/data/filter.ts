/**
 * Query filters (filtered search): a label set with any-of / all-of semantics over the base's
 * labels (labels.ts), or a raw bitmap over base ids for library users. A search takes one filter
 * for every query or one per query (null: that query is unfiltered). The CPU predicate here is the
 * oracle the GPU kernels (shaders/filter_labels.wgsl, knn_mask.wgsl) are tested against; the
 * passing sets feed filtered ground truth and the brute-force fallback. Node-free.
 */
import { UserError } from '../errors.ts';
import { labelsOf, MAX_LABEL_ID, type LabelSets } from './labels.ts';

/** Passes vectors carrying at least one of the labels (an empty list passes nothing). */
export interface AnyOfFilter {
  anyOf: readonly number[];
}
/** Passes vectors carrying every one of the labels (an empty list passes everything). */
export interface AllOfFilter {
  allOf: readonly number[];
}
/** Passes vector i when bit i of the bitmap is set: word i >> 5, bit i & 31; ceil(n / 32) words. */
export interface BitmapFilter {
  bitmap: Uint32Array;
}
export type QueryFilter = AnyOfFilter | AllOfFilter | BitmapFilter;
/** One filter for every query, or one per query (null / undefined: unfiltered). */
export type FilterSpec = QueryFilter | readonly (QueryFilter | null | undefined)[];

export const bitmapWords = (n: number): number => Math.ceil(n / 32);

/** Validated, normalised (label lists ascending, distinct) filters, one per query. */
export function filtersPerQuery(spec: FilterSpec, nq: number, n: number, labels: LabelSets | undefined, where = 'filter'): (QueryFilter | null)[] {
  const list = Array.isArray(spec) ? (spec as readonly (QueryFilter | null | undefined)[]) : null;
  if (list && list.length !== nq) throw new UserError(`${where}: ${list.length} filters for ${nq} queries (give one filter, or one per query)`);
  const cache = new Map<QueryFilter, QueryFilter>();
  const one = (f: QueryFilter | null | undefined, q: number): QueryFilter | null => {
    if (f === null || f === undefined) return null;
    const hit = cache.get(f);
    if (hit) return hit;
    const out = normaliseFilter(f, n, labels, list ? `${where}[${q}]` : where);
    cache.set(f, out);
    return out;
  };
  return list ? list.map(one) : new Array<QueryFilter | null>(nq).fill(one(spec as QueryFilter, 0));
}

function normaliseFilter(f: QueryFilter, n: number, labels: LabelSets | undefined, where: string): QueryFilter {
  if (typeof f !== 'object' || f === null) throw new UserError(`${where}: expected { anyOf: [...] }, { allOf: [...] } or { bitmap: Uint32Array }`);
  const keys = Object.keys(f);
  if (keys.length !== 1 || !['anyOf', 'allOf', 'bitmap'].includes(keys[0])) throw new UserError(`${where}: expected exactly one of anyOf, allOf, bitmap; got ${keys.join(', ') || 'no field'}`);
  if ('bitmap' in f) {
    if (!(f.bitmap instanceof Uint32Array) || f.bitmap.length !== bitmapWords(n)) {
      throw new UserError(`${where}: bitmap must be a Uint32Array of ceil(n / 32) = ${bitmapWords(n)} words, got ${f.bitmap instanceof Uint32Array ? `${f.bitmap.length} words` : typeof f.bitmap}`);
    }
    return f;
  }
  if (!labels) throw new UserError(`${where}: a label filter needs an index with labels (crinn build --labels FILE); this one has none`);
  const raw = 'anyOf' in f ? f.anyOf : f.allOf;
  if (!Array.isArray(raw)) throw new UserError(`${where}: ${keys[0]} must be an array of label ids`);
  for (const v of raw) if (!Number.isInteger(v) || v < 0 || v > MAX_LABEL_ID) throw new UserError(`${where}: label ${v} is not an integer in 0..${MAX_LABEL_ID}`);
  const ids = [...new Set(raw as number[])].sort((a, b) => a - b);
  return 'anyOf' in f ? { anyOf: ids } : { allOf: ids };
}

/** The CPU predicate: does base vector `id` pass `f`? (Label lists must be normalised.) */
export function passesFilter(f: QueryFilter | null, labels: LabelSets | undefined, id: number): boolean {
  if (f === null) return true;
  if ('bitmap' in f) return ((f.bitmap[id >>> 5] >>> (id & 31)) & 1) === 1;
  const row = labelsOf(labels!, id);
  if ('anyOf' in f) return f.anyOf.some((v) => sortedHas(row, v));
  return f.allOf.every((v) => sortedHas(row, v));
}

function sortedHas(row: Uint32Array, v: number): boolean {
  let lo = 0;
  let hi = row.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (row[m] < v) lo = m + 1;
    else hi = m;
  }
  return lo < row.length && row[lo] === v;
}

/**
 * Label -> the ascending ids of the vectors carrying it (an inverted index over the labels):
 * passing sets of label filters without a scan of the base.
 */
export class Postings {
  private readonly lists = new Map<number, Uint32Array>();
  readonly n: number;

  constructor(labels: LabelSets) {
    this.n = labels.n;
    const counts = new Map<number, number>();
    for (const v of labels.ids) counts.set(v, (counts.get(v) ?? 0) + 1);
    for (const [v, c] of counts) this.lists.set(v, new Uint32Array(c));
    const fill = new Map<number, number>();
    for (let i = 0; i < labels.n; i++) {
      for (let j = labels.offsets[i]; j < labels.offsets[i + 1]; j++) {
        const v = labels.ids[j];
        const at = fill.get(v) ?? 0;
        this.lists.get(v)![at] = i;
        fill.set(v, at + 1);
      }
    }
  }

  of(label: number): Uint32Array {
    return this.lists.get(label) ?? EMPTY;
  }

  /** The labels present, with their vector counts. */
  counts(): Map<number, number> {
    return new Map([...this.lists].map(([v, l]) => [v, l.length]));
  }

  /**
   * Ascending ids passing a label filter, or null when the set is known to exceed `cap` without
   * building it (any-of: the largest list alone exceeds it; all-of: the smallest does).
   */
  passing(f: AnyOfFilter | AllOfFilter, cap = Infinity): Uint32Array | null {
    if ('anyOf' in f) {
      const lists = f.anyOf.map((v) => this.of(v));
      if (lists.some((l) => l.length > cap)) return null;
      if (lists.length === 1) return lists[0];
      const seen = new Set<number>();
      for (const l of lists) for (const i of l) seen.add(i);
      if (seen.size > cap) return null;
      return Uint32Array.from(seen).sort();
    }
    if (f.allOf.length === 0) return this.n > cap ? null : Uint32Array.from({ length: this.n }, (_, i) => i);
    const lists = f.allOf.map((v) => this.of(v)).sort((a, b) => a.length - b.length);
    if (lists[0].length > cap && lists.length === 1) return null;
    let cur = lists[0];
    for (let t = 1; t < lists.length && cur.length > 0; t++) cur = intersect(cur, lists[t]);
    return cur.length > cap ? null : cur;
  }
}

const EMPTY = new Uint32Array(0);

function intersect(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push(a[i]);
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return Uint32Array.from(out);
}

/** Ascending ids a bitmap passes, or null past `cap`. */
export function bitmapPassing(bitmap: Uint32Array, n: number, cap = Infinity): Uint32Array | null {
  let count = 0;
  for (let w = 0; w < bitmap.length; w++) {
    count += popcount(bitmap[w]);
    if (count > cap) return null;
  }
  const out = new Uint32Array(count);
  let o = 0;
  for (let w = 0; w < bitmap.length; w++) {
    let x = bitmap[w];
    while (x !== 0) {
      const id = w * 32 + (31 - Math.clz32(x & -x));
      if (id < n) out[o++] = id;
      x &= x - 1;
    }
  }
  return out.subarray(0, o);
}

export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** The ids passing `f` (null filter: all), ascending: postings for labels, the bitmap's bits otherwise. */
export function passingIds(f: QueryFilter | null, n: number, postings: Postings | undefined, cap = Infinity): Uint32Array | null {
  if (f === null) return n > cap ? null : Uint32Array.from({ length: n }, (_, i) => i);
  if ('bitmap' in f) return bitmapPassing(f.bitmap, n, cap);
  return postings!.passing(f, cap);
}

/** The filter as a bitmap over n ids (ceil(n / 32) words). */
export function filterBitmap(f: QueryFilter | null, n: number, postings: Postings | undefined): Uint32Array {
  if (f !== null && 'bitmap' in f) return f.bitmap;
  const out = new Uint32Array(bitmapWords(n));
  for (const i of passingIds(f, n, postings)!) out[i >>> 5] |= 1 << (i & 31);
  return out;
}
