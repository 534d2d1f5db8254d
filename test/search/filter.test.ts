/**
 * Filtered search on the GPU against filtered brute force (the CPU predicate and exact distances):
 * every selectivity from 50% to 0.1%, both traversals and the brute-force fallback, any-of /
 * all-of / bitmap filters mixed within one batch, a filter passing nothing and one passing a
 * single vector; and the filtered exact kNN (knn_mask.wgsl) against the CPU.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { loadDataset } from '../../src/data/resolve.ts';
import type { Dataset, Neighbors, VectorSet } from '../../src/data/types.ts';
import { distance } from '../../src/data/metric.ts';
import { bitmapWords, filtersPerQuery, passesFilter, type FilterSpec, type QueryFilter } from '../../src/data/filter.ts';
import { filteredExactKnn } from '../../src/data/filtered-knn.ts';
import { labelsOf, type LabelSets } from '../../src/data/labels.ts';
import { selectivityFilters, zipfLabels } from '../../src/data/synthetic-labels.ts';
import { AnnEngine, buildIndex, type SearchOptions } from '../../src/search/engine.ts';
import { openTestGpu } from '../gpu/helpers.ts';

let ctx: GpuContext;
let ds: Dataset;
let labels: LabelSets;
let engine: AnnEngine;
const k = 10;

beforeAll(async () => {
  ctx = await openTestGpu();
  ds = await loadDataset('siftsmall-5k');
  labels = zipfLabels(ds.base.n, { seed: 5 });
  const { index } = await buildIndex(ds.base, ds.metric, { seed: 3 }, { ctx, quiet: true, labels });
  engine = new AnnEngine(ctx, index);
});
afterAll(() => {
  engine?.destroy();
  ctx?.destroy();
});

/** Filtered brute force on the CPU: the oracle. */
function cpuFiltered(queries: VectorSet, filters: readonly (QueryFilter | null)[]): { ids: number[][]; d: number[][] } {
  const ids: number[][] = [];
  const d: number[][] = [];
  for (let q = 0; q < queries.n; q++) {
    const all: [number, number][] = [];
    for (let i = 0; i < ds.base.n; i++) if (passesFilter(filters[q], labels, i)) all.push([distance(ds.metric, queries.data, q, ds.base.data, i, ds.base.dim), i]);
    all.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    ids.push(all.slice(0, k).map((x) => x[1]));
    d.push(all.slice(0, k).map((x) => x[0]));
  }
  return { ids, d };
}

/** Checks every returned id passes its filter, none repeats, -1 only at the tail; returns recall vs the oracle (distance-aware). */
function check(res: Neighbors, queries: VectorSet, filters: readonly (QueryFilter | null)[], truth: { d: number[][] }): number {
  let hits = 0;
  let want = 0;
  for (let q = 0; q < queries.n; q++) {
    const row = Array.from(res.ids.subarray(q * k, (q + 1) * k));
    const valid = row.filter((v) => v >= 0);
    expect(row.slice(0, valid.length)).toEqual(valid);
    expect(new Set(valid).size).toBe(valid.length);
    for (const id of valid) {
      if (!passesFilter(filters[q], labels, id)) throw new Error(`query ${q}: id ${id} does not pass its filter ${JSON.stringify(filters[q])}`);
    }
    const td = truth.d[q];
    want += td.length;
    if (td.length === 0) continue;
    const limit = td[td.length - 1] + 1e-3 + 1e-6 * Math.abs(td[td.length - 1]);
    for (const id of valid) if (distance(ds.metric, queries.data, q, ds.base.data, id, ds.base.dim) <= limit) hits++;
  }
  return want === 0 ? 1 : hits / want;
}

const queries = (): VectorSet => ds.queries;

describe('filtered search: labels on the GPU against filtered brute force', () => {
  // Floors sit just under the values measured on lavapipe (siftsmall-5k, seed 3, Zipf labels seed 5).
  const cases: { sel: number; opts: SearchOptions; floor: number; name: string }[] = [
    // One list length throughout: each filtered kernel specialisation costs ~1 min of cold compile on lavapipe.
    { sel: 0.5, opts: { itopk: 128, bruteForceBelow: 0 }, floor: 0.99, name: 'traverse' },
    { sel: 0.1, opts: { itopk: 128, bruteForceBelow: 0 }, floor: 0.99, name: 'traverse' },
    { sel: 0.5, opts: { itopk: 128, bruteForceBelow: 0, filterTraversal: 2 }, floor: 0.99, name: 'restrict' },
    { sel: 0.01, opts: { itopk: 128, bruteForceBelow: 0 }, floor: 0.7, name: 'traverse' },
    { sel: 0.01, opts: { bruteForceBelow: 0.02 }, floor: 1, name: 'brute-force' },
    { sel: 0.001, opts: {}, floor: 1, name: 'brute-force' },
  ];
  for (const c of cases) {
    it(`selectivity ${c.sel} (${c.name}, ${JSON.stringify(c.opts)}): only passing ids, recall@10 >= ${c.floor}`, async () => {
      const { filters } = selectivityFilters(labels, queries().n, c.sel, { seed: 3, minPassing: k });
      const truth = cpuFiltered(queries(), filters);
      const res = await engine.search(queries(), k, { ...c.opts, filter: filters });
      const recall = check(res, queries(), filters, truth);
      expect(recall).toBeGreaterThanOrEqual(c.floor);
    });
  }

  it('mixes any-of, all-of, a bitmap and unfiltered queries in one batch; all-of is not any-of', async () => {
    const n = ds.base.n;
    const bitmap = new Uint32Array(bitmapWords(n));
    for (let i = 0; i < n; i += 3) bitmap[i >>> 5] |= 1 << (i & 31);
    const pool: (QueryFilter | null)[] = [{ anyOf: [0] }, { allOf: [0, 1] }, { bitmap }, null, { anyOf: [2, 5] }, { allOf: [1] }];
    const spec: FilterSpec = Array.from({ length: queries().n }, (_, q) => pool[q % pool.length]);
    const filters = filtersPerQuery(spec, queries().n, n, labels);
    const truth = cpuFiltered(queries(), filters);
    for (const opts of [{ itopk: 128, bruteForceBelow: 0 }, { itopk: 128, bruteForceBelow: 0, filterTraversal: 2 }, { bruteForceBelow: 1 }] as SearchOptions[]) {
      const res = await engine.search(queries(), k, { ...opts, filter: spec });
      expect(check(res, queries(), filters, truth)).toBeGreaterThanOrEqual(opts.bruteForceBelow === 1 ? 1 : 0.9);
    }
    // The all-of rows really need both labels (ignoring all-of would return rows with label 0 alone).
    const both = Array.from({ length: n }, (_, i) => i).filter((i) => labelsOf(labels, i).includes(0) && labelsOf(labels, i).includes(1)).length;
    const either = Array.from({ length: n }, (_, i) => i).filter((i) => labelsOf(labels, i).includes(0)).length;
    expect(both).toBeGreaterThan(k);
    expect(either).toBeGreaterThan(2 * both);
  });

  it('a filter that passes nothing returns no ids (beam and brute force), and does not hang', async () => {
    const none: QueryFilter = { anyOf: [999_999] };
    for (const opts of [{}, { itopk: 128, bruteForceBelow: 0 }, { itopk: 128, bruteForceBelow: 0, filterTraversal: 2 }] as SearchOptions[]) {
      const res = await engine.search(queries(), k, { ...opts, filter: none });
      expect(Array.from(res.ids).every((v) => v === -1)).toBe(true);
    }
    const empty = new Uint32Array(bitmapWords(ds.base.n));
    const res = await engine.search(queries(), k, { itopk: 128, bruteForceBelow: 0, filter: { bitmap: empty } });
    expect(Array.from(res.ids).every((v) => v === -1)).toBe(true);
  });

  it('a filter that passes one vector returns exactly it (brute force), or nothing else (beam)', async () => {
    const target = 1234;
    const bitmap = new Uint32Array(bitmapWords(ds.base.n));
    bitmap[target >>> 5] |= 1 << (target & 31);
    const exact = await engine.search(queries(), k, { filter: { bitmap } });
    for (let q = 0; q < queries().n; q++) expect(Array.from(exact.ids.subarray(q * k, (q + 1) * k))).toEqual([target, ...new Array(k - 1).fill(-1)]);
    const beam = await engine.search(queries(), k, { bruteForceBelow: 0, itopk: 128, filter: { bitmap } });
    for (let q = 0; q < queries().n; q++) {
      const row = Array.from(beam.ids.subarray(q * k, (q + 1) * k));
      expect(row.slice(1)).toEqual(new Array(k - 1).fill(-1));
      expect([target, -1]).toContain(row[0]);
    }
  });

  it('refuses a label filter on an unlabelled index and a bitmap of the wrong length', async () => {
    const { index } = await buildIndex({ data: ds.base.data.subarray(0, 500 * ds.base.dim), n: 500, dim: ds.base.dim }, ds.metric, { seed: 1 }, { quiet: true });
    const plain = new AnnEngine(ctx, index);
    try {
      await expect(plain.search(queries(), k, { filter: { anyOf: [1] } })).rejects.toThrow(/needs an index with labels/);
      await expect(plain.search(queries(), k, { filter: { bitmap: new Uint32Array(3) } })).rejects.toThrow(/ceil\(n \/ 32\) = 16 words/);
      await expect(plain.search(queries(), k, { filter: [{ bitmap: new Uint32Array(16) }] })).rejects.toThrow(/1 filters for 100 queries/);
    } finally {
      plain.destroy();
    }
  });

  it('filtered exact kNN on the GPU equals filtered brute force on the CPU', async () => {
    const { filters } = selectivityFilters(labels, queries().n, 0.05, { seed: 9, minPassing: 1 });
    // Labels carried by fewer than k vectors: rows with fewer than k neighbours.
    const rare = [...new Map([...labels.ids].map((v) => [v, 0])).keys()].filter((v) => Array.from(labels.ids).filter((x) => x === v).length < k).slice(0, 3);
    expect(rare.length).toBe(3);
    const mixed: (QueryFilter | null)[] = filters.map((f, q) => (q % 4 === 0 ? { allOf: [...f.anyOf, 0] } : q % 5 === 0 ? { anyOf: [rare[q % 3]] } : q % 7 === 0 ? null : f));
    const norm = filtersPerQuery(mixed, queries().n, ds.base.n, labels);
    const gpu = await filteredExactKnn(ctx, ds.base, queries(), k, ds.metric, norm, labels);
    const cpu = cpuFiltered(queries(), norm);
    for (let q = 0; q < queries().n; q++) {
      const want = [...cpu.ids[q], ...new Array(k - cpu.ids[q].length).fill(-1)];
      expect(Array.from(gpu.ids.subarray(q * k, (q + 1) * k))).toEqual(want);
    }
    expect(cpu.ids.some((r) => r.length < k)).toBe(true);
  });
});
