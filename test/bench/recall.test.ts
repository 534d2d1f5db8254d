import { describe, expect, it } from 'vitest';
import { groundTruthKthDistances, recallAtK } from '../../src/bench/recall.ts';
import { bruteForceKnn } from '../../src/data/metric.ts';
import type { Metric, Neighbors, VectorSet } from '../../src/data/types.ts';
import { seededRng } from '../../src/bench/sweep.ts';
import { UserError } from '../../src/errors.ts';

function randomSet(n: number, dim: number, seed: number, normalize = false): VectorSet {
  const rng = seededRng(seed);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < data.length; i++) data[i] = rng() * 2 - 1;
  if (normalize) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let t = 0; t < dim; t++) s += data[i * dim + t] ** 2;
      for (let t = 0; t < dim; t++) data[i * dim + t] /= Math.sqrt(s);
    }
  }
  return { data, n, dim };
}

function points2d(xy: [number, number][]): VectorSet {
  return { data: Float32Array.from(xy.flat()), n: xy.length, dim: 2 };
}

function single(ids: number[]): Neighbors {
  return { ids: Int32Array.from(ids), nq: 1, k: ids.length };
}

describe('recallAtK against brute force', () => {
  for (const metric of ['l2', 'ip', 'angular'] as Metric[]) {
    it(`perfect ids score 1.0 (${metric})`, () => {
      const base = randomSet(300, 12, 1, metric === 'angular');
      const queries = randomSet(25, 12, 2, metric === 'angular');
      const gt = bruteForceKnn(base, queries, 20, metric);
      // The result row is the ground truth itself, with its 20 ids; only the first 10 count.
      const r = recallAtK(gt, base, queries, metric, gt, 10);
      expect(r.recall).toBe(1);
      expect(r.perQuery.every((x) => x === 1)).toBe(true);
      // Same from precomputed k-th distances, and from ids-only ground truth.
      const kth = groundTruthKthDistances(gt, base, queries, metric, 10);
      expect(recallAtK(gt, base, queries, metric, kth, 10).recall).toBe(1);
      const idsOnly: Neighbors = { ids: gt.ids, nq: gt.nq, k: gt.k };
      const kth2 = groundTruthKthDistances(idsOnly, base, queries, metric, 10);
      for (let q = 0; q < queries.n; q++) expect(kth2[q]).toBeCloseTo(kth[q], 5);
    });
  }

  it('a random answer scores low, and the mean is the mean of per-query recalls', () => {
    const base = randomSet(500, 8, 3);
    const queries = randomSet(10, 8, 4);
    const gt = bruteForceKnn(base, queries, 10, 'l2');
    const ids = new Int32Array(100).map((_, i) => 400 + i);
    const r = recallAtK({ ids, nq: 10, k: 10 }, base, queries, 'l2', gt);
    expect(r.recall).toBeLessThan(0.5);
    expect(r.recall).toBeCloseTo(r.perQuery.reduce((a, b) => a + b, 0) / 10, 12);
  });
});

describe('recallAtK rules (query at the origin, squared L2)', () => {
  // Points (1,0) .. (10,0): squared distances 1, 4, ..., 100; d_10 = 100.
  const line: [number, number][] = Array.from({ length: 10 }, (_, i) => [i + 1, 0]);
  const base = points2d([
    ...line,
    [0, 10], // id 10: tie with the 10th neighbour (distance 100)
    [11, 0], // id 11: 121, far beyond the tolerance
    [10.00002, 0], // id 12: ~100.0004, inside d_k + 1e-3 + 1e-6 d_k
    [10.0001, 0], // id 13: ~100.002, outside it
  ]);
  const queries = points2d([[0, 0]]);
  const gt = bruteForceKnn(base, queries, 10, 'l2');
  const truth = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const score = (ids: number[]) => recallAtK(single(ids), base, queries, 'l2', gt, 10).recall;

  it('ground truth is ids 0..9 with d_10 = 100', () => {
    expect(Array.from(gt.ids)).toEqual(truth);
    expect(groundTruthKthDistances(gt, base, queries, 'l2', 10)[0]).toBe(100);
  });

  it('sorts an unsorted (deeper) ground-truth row before taking d_k, from ids or from distances', () => {
    const all = bruteForceKnn(base, queries, 14, 'l2');
    const ids = Int32Array.from(all.ids).reverse();
    const distances = Float32Array.from(all.distances!).reverse();
    expect(groundTruthKthDistances({ ids, nq: 1, k: 14 }, base, queries, 'l2', 10)[0]).toBe(100);
    expect(groundTruthKthDistances({ ids, distances, nq: 1, k: 14 }, base, queries, 'l2', 10)[0]).toBe(100);
    expect(recallAtK(single(truth), base, queries, 'l2', { ids, nq: 1, k: 14 }, 10).recall).toBe(1);
  });

  it('an id tied with the k-th distance counts', () => {
    expect(score([0, 1, 2, 3, 4, 5, 6, 7, 8, 10])).toBe(1);
  });

  it('an id within the tolerance counts, one beyond it does not', () => {
    expect(score([0, 1, 2, 3, 4, 5, 6, 7, 8, 12])).toBe(1);
    expect(score([0, 1, 2, 3, 4, 5, 6, 7, 8, 13])).toBeCloseTo(0.9, 12);
    expect(score([0, 1, 2, 3, 4, 5, 6, 7, 8, 11])).toBeCloseTo(0.9, 12);
  });

  it('repeated ids count once', () => {
    expect(score([0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).toBeCloseTo(0.1, 12);
    expect(score([0, 1, 1, 3, 4, 5, 6, 7, 8, 9])).toBeCloseTo(0.9, 12);
  });

  it('out-of-range ids do not count', () => {
    expect(score([-1, 1, 2, 3, 4, 5, 6, 7, 8, 9])).toBeCloseTo(0.9, 12);
    expect(score([0, 1, 2, 3, 4, 5, 6, 7, 14, 2 ** 31 - 1])).toBeCloseTo(0.8, 12);
  });

  it('never trusts returned distances', () => {
    const lying: Neighbors = { ids: Int32Array.from([11, 11, 11, 11, 11, 11, 11, 11, 11, 11]), distances: new Float32Array(10), nq: 1, k: 10 };
    expect(recallAtK(lying, base, queries, 'l2', gt, 10).recall).toBe(0);
  });

  it('only the first k ids of a longer row count; a shorter row scores lower', () => {
    expect(score([11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 0, 1, 2])).toBe(0);
    expect(score([0, 1, 2, 3, 4])).toBeCloseTo(0.5, 12);
  });

  it('rejects shape mismatches with a UserError', () => {
    expect(() => recallAtK({ ids: new Int32Array(20), nq: 2, k: 10 }, base, queries, 'l2', gt, 10)).toThrow(UserError);
    expect(() => groundTruthKthDistances(gt, base, queries, 'l2', 11)).toThrow(/fewer than k=11/);
    expect(() => recallAtK(single(truth), base, queries, 'l2', new Float32Array(3), 10)).toThrow(UserError);
  });
});
