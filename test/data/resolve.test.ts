import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { loadDataset, listKnownDatasets, defaultHoldout } from '../../src/data/resolve.ts';
import { bruteForceKnn } from '../../src/data/metric.ts';
import { readGloveText } from '../../src/data/glove.ts';
import { writeFvecs, writeIvecs } from '../../src/data/vecs.ts';
import { writeAnnHdf5 } from '../../src/data/hdf5.ts';
import { generateSynthetic, parseSyntheticName } from '../../src/data/synthetic.ts';
import type { VectorSet } from '../../src/data/types.ts';
import { expectUserError, hasShared, sharedData, tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-resolve-');
afterAll(cleanup);
// Keep the real download cache out of the tests.
const cacheDir = path.join(dir, 'cache');
mkdirSync(cacheDir);

function grid(n: number, dim: number, f: (i: number) => number): VectorSet {
  return { data: Float32Array.from({ length: n * dim }, (_, i) => f(i)), n, dim };
}

describe.skipIf(!hasShared)('shared datasets', () => {
  it('siftsmall loads with its official ground truth, which agrees with brute force (distance-aware)', async () => {
    const ds = await loadDataset('siftsmall', { dataDir: sharedData, cacheDir });
    expect([ds.base.n, ds.base.dim, ds.queries.n, ds.queries.dim]).toEqual([10000, 128, 100, 128]);
    expect(ds.metric).toBe('l2');
    const gt = ds.groundTruth!;
    expect([gt.nq, gt.k]).toEqual([100, 100]);
    expect(gt.distances).toBeDefined();
    const picks = [0, 17, 42, 99];
    const q = { data: new Float32Array(picks.flatMap((p) => Array.from(ds.queries.data.subarray(p * 128, (p + 1) * 128)))), n: picks.length, dim: 128 };
    const bf = bruteForceKnn(ds.base, q, 100, 'l2');
    picks.forEach((p, r) => {
      for (const k of [1, 10, 100]) expect(gt.distances![p * 100 + k - 1]).toBe(bf.distances![r * 100 + k - 1]);
      // Every official id lies within the true k-th distance (ties may reorder ids, never distances).
      const dk = bf.distances![r * 100 + 99];
      for (let j = 0; j < 100; j++) expect(gt.distances![p * 100 + j]).toBeLessThanOrEqual(dk + 1e-3 + 1e-6 * dk);
      // Ascending, as ground truth must be.
      for (let j = 1; j < 100; j++) expect(gt.distances![p * 100 + j]).toBeGreaterThanOrEqual(gt.distances![p * 100 + j - 1]);
    });
  });

  it('siftsmall with a limit drops the ground truth that refers to the full base', async () => {
    const ds = await loadDataset('siftsmall', { dataDir: sharedData, cacheDir, limit: 1000, queries: 10 });
    expect([ds.base.n, ds.queries.n, ds.groundTruth]).toEqual([1000, 10, undefined]);
  });

  it('glove-50-10k holds out the last 500 words as queries and normalises', async () => {
    const ds = await loadDataset('glove-50-10k', { dataDir: sharedData, cacheDir });
    expect([ds.base.n, ds.queries.n, ds.base.dim, ds.metric]).toEqual([9500, 500, 50, 'angular']);
    expect(ds.groundTruth).toBeUndefined();
    const raw = await readGloveText(path.join(sharedData, 'glove-50-10k', 'glove.6B.50d.10k.txt'));
    const row = raw.vectors.data.subarray(9500 * 50, 9501 * 50);
    const norm = Math.hypot(...row);
    for (let t = 0; t < 50; t++) expect(ds.queries.data[t]).toBeCloseTo(row[t] / norm, 6);
    let s = 0;
    for (let t = 0; t < 50; t++) s += ds.base.data[123 * 50 + t] ** 2;
    expect(s).toBeCloseTo(1, 5);
  });
});

describe('names', () => {
  it('synthetic names load with limit and query overrides', async () => {
    const ds = await loadDataset('synthetic-3000-d16', { cacheDir, limit: 1000, queries: 7 });
    const full = generateSynthetic(parseSyntheticName('synthetic-3000-d16')!);
    expect([ds.base.n, ds.queries.n, ds.base.dim]).toEqual([1000, 7, 16]);
    expect(Array.from(ds.base.data)).toEqual(Array.from(full.base.data.subarray(0, 1000 * 16)));
  });

  it('an ann-benchmarks name loads from the cache, or says how to download it', async () => {
    await expectUserError(loadDataset('glove-25-angular', { cacheDir }), 'not downloaded', 'crinn dataset download glove-25-angular');
    await writeAnnHdf5(path.join(cacheDir, 'glove-25-angular.hdf5'), {
      metric: 'angular',
      train: grid(50, 25, (i) => (i % 13) + 1),
      test: grid(4, 25, (i) => (i % 7) + 1),
      neighbors: { data: new Int32Array(4 * 3), n: 4, dim: 3 },
    });
    const ds = await loadDataset('glove-25-angular', { cacheDir });
    expect([ds.base.n, ds.queries.n, ds.groundTruth?.k]).toEqual([50, 4, 3]);
  });

  it('unknown names list the known ones', async () => {
    const names = listKnownDatasets().map((d) => d.name);
    expect(names).toEqual(expect.arrayContaining(['siftsmall', 'glove-50-10k', 'synthetic-20k', 'synthetic-100k', 'sift-128-euclidean', 'lastfm-64-dot']));
    await expectUserError(loadDataset('no-such-set', { cacheDir }), "unknown dataset 'no-such-set'", 'siftsmall', 'synthetic-20k', 'gist-960-euclidean');
  });
});

describe('paths', () => {
  it('an .hdf5 path gets ground truth distances in the metric units, recomputed from vectors', async () => {
    const p = path.join(dir, 'tiny.hdf5');
    const base = grid(40, 3, (i) => (i * 7) % 11);
    const queries = grid(5, 3, (i) => (i * 5) % 9);
    const bf = bruteForceKnn(base, queries, 4, 'l2');
    // The file stores ann-benchmarks' (non-squared) distances; ours are squared L2.
    const stored = Float32Array.from(bf.distances!, Math.sqrt);
    await writeAnnHdf5(p, { metric: 'l2', train: base, test: queries, neighbors: { data: bf.ids, n: 5, dim: 4 }, distances: { data: stored, n: 5, dim: 4 } });
    const ds = await loadDataset(p, { cacheDir });
    expect(ds.name).toBe('tiny');
    expect(Array.from(ds.groundTruth!.distances!)).toEqual(Array.from(bf.distances!));
    expect((await loadDataset(p, { cacheDir, limit: 39 })).groundTruth).toBeUndefined();
    expect((await loadDataset(p, { cacheDir, limit: 40 })).groundTruth).toBeDefined();
    await expectUserError(loadDataset(p, { cacheDir, metric: 'ip' }), 'metric', 'l2');
  });

  it('a TEXMEX-style *_base.fvecs finds its query and ground-truth files', async () => {
    const base = grid(30, 4, (i) => i % 17);
    const queries = grid(3, 4, (i) => i % 5);
    const bf = bruteForceKnn(base, queries, 5, 'l2');
    await writeFvecs(path.join(dir, 'x_base.fvecs'), base);
    await writeFvecs(path.join(dir, 'x_query.fvecs'), queries);
    await writeIvecs(path.join(dir, 'x_groundtruth.ivecs'), { data: bf.ids, n: 3, dim: 5 });
    const ds = await loadDataset(path.join(dir, 'x_base.fvecs'), { cacheDir });
    expect([ds.name, ds.base.n, ds.queries.n, ds.groundTruth?.k]).toEqual(['x', 30, 3, 5]);
    expect(Array.from(ds.groundTruth!.distances!)).toEqual(Array.from(bf.distances!));
  });

  it('a plain .fvecs holds out its tail as queries; an explicit query file is checked against the base', async () => {
    const p = path.join(dir, 'plain.fvecs');
    await writeFvecs(p, grid(200, 8, (i) => i % 23));
    const ds = await loadDataset(p, { cacheDir });
    expect([ds.base.n, ds.queries.n]).toEqual([200 - defaultHoldout(200), defaultHoldout(200)]);
    expect(ds.queries.data[0]).toBe(((200 - defaultHoldout(200)) * 8) % 23);
    const q5 = path.join(dir, 'q5.fvecs');
    await writeFvecs(q5, grid(2, 5, () => 1));
    await expectUserError(loadDataset(p, { cacheDir, queries: q5 }), q5, 'dimension 5', 'has 8');
    const q8 = path.join(dir, 'q8.fvecs');
    await writeFvecs(q8, grid(2, 8, () => 1));
    const gtBad = path.join(dir, 'gt-bad.ivecs');
    await writeIvecs(gtBad, { data: Int32Array.from([0, 1, 2, 500]), n: 2, dim: 2 });
    await expectUserError(loadDataset(p, { cacheDir, queries: q8, groundTruth: gtBad }), gtBad, 'row 1', 'id 500');
    const gtRows = path.join(dir, 'gt-rows.ivecs');
    await writeIvecs(gtRows, { data: new Int32Array(3), n: 3, dim: 1 });
    await expectUserError(loadDataset(p, { cacheDir, queries: q8, groundTruth: gtRows }), gtRows, '3 ground-truth rows', '2 queries');
  });

  it('zero vectors in an angular dataset name the file and the row', async () => {
    const p = path.join(dir, 'zero.fvecs');
    await writeFvecs(p, grid(50, 4, (i) => (Math.floor(i / 4) === 3 ? 0 : 1 + (i % 3))));
    await expectUserError(loadDataset(p, { cacheDir, metric: 'angular' }), p, 'vector 3', 'zero length');
    const t = path.join(dir, 'zero.txt');
    writeFileSync(t, Array.from({ length: 40 }, (_, i) => `w${i} ${i === 38 ? '0 0' : '1 2'}`).join('\n'));
    await expectUserError(loadDataset(t, { cacheDir }), t, 'vector 38', 'zero length');
  });

  it('missing files, unsupported types and misplaced options', async () => {
    await expectUserError(loadDataset(path.join(dir, 'none.fvecs'), { cacheDir }), 'none.fvecs', 'not found');
    const csv = path.join(dir, 'data.csv');
    writeFileSync(csv, '1,2\n');
    await expectUserError(loadDataset(csv, { cacheDir }), csv, "unsupported file type '.csv'");
    await expectUserError(loadDataset('siftsmall', { cacheDir, queries: 'q.fvecs' }), 'queries', 'siftsmall');
    await expectUserError(loadDataset('synthetic-20k', { cacheDir, limit: -1 }), 'limit', 'positive integer');
  });
});

describe('limits on synthetic data', () => {
  it('a limit below the cluster count keeps the same rows as the full set', async () => {
    const ds = await loadDataset('synthetic-2000-d8', { cacheDir, limit: 10 });
    const full = generateSynthetic(parseSyntheticName('synthetic-2000-d8')!);
    expect(Array.from(ds.base.data)).toEqual(Array.from(full.base.data.subarray(0, 10 * 8)));
  });
});
