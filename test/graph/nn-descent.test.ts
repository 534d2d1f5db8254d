import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bruteForceKnn } from '../../src/data/metric.ts';
import { createArena } from '../../src/graph/arena.ts';
import { WorkerPool } from '../../src/graph/pool.ts';
import { knownBytesFor, nnDescent, nndIds, sampleSize } from '../../src/graph/nn-descent.ts';
import { cpuExactKnn } from '../../src/graph/knn.ts';
import { resolveBuildParams } from '../../src/graph/params.ts';
import { gaussianMixture } from './helpers.ts';

const N = 5000;
const DIM = 32;
const K = 32;
const base = gaussianMixture(N, DIM, 20, 0.5, 11);
// The oracle: exact neighbours of 300 sampled base vectors (k + 1 to drop the vector itself).
const sample = Array.from({ length: 300 }, (_, i) => (i * 16) % N);
const qs = { data: new Float32Array(sample.length * DIM), n: sample.length, dim: DIM };
sample.forEach((row, i) => qs.data.set(base.data.subarray(row * DIM, row * DIM + DIM), i * DIM));
const truth = bruteForceKnn(base, qs, K + 1, 'l2');

function recall(ids: Int32Array): number {
  let hit = 0;
  sample.forEach((row, i) => {
    const exact = new Set(Array.from(truth.ids.subarray(i * (K + 1), (i + 1) * (K + 1))).filter((v) => v !== row).slice(0, K));
    for (let r = 0; r < K; r++) if (exact.has(ids[row * K + r])) hit++;
  });
  return hit / (sample.length * K);
}

const RHO = resolveBuildParams({}, N, false).nnDescent.rho;
const arenaFor = (threads: number) => createArena(base.data, N, DIM, true, threads, { listInts: K, knownBytes: knownBytesFor(sampleSize(K, RHO)) });
const listsOf = (arena: ReturnType<typeof arenaFor>, k: number) => new Int32Array(arena.memory.buffer, arena.layout.listPtr, N * k);

describe('kNN graph construction', () => {
  let pool: WorkerPool;
  let arena: ReturnType<typeof arenaFor>;
  beforeAll(async () => {
    arena = arenaFor(1);
    pool = await WorkerPool.create(arena, 1);
  });
  afterAll(() => pool.close());

  it('NN-descent reaches recall >= 0.9 against brute force', async () => {
    const p = resolveBuildParams({ intermediateDegree: K }, N, false);
    const { st, rounds } = await nnDescent(pool, N, K, p.nnDescent, 1, listsOf(arena, K));
    const ids = nndIds(st);
    expect(rounds).toBeGreaterThan(0);
    const r = recall(ids);
    expect(r).toBeGreaterThanOrEqual(0.9);
    // Every list: K distinct ids, none the node itself.
    for (let i = 0; i < N; i++) {
      const row = new Set(ids.subarray(i * K, (i + 1) * K));
      expect(row.size).toBe(K);
      expect(row.has(i)).toBe(false);
    }
  });

  it('the CPU exact kNN matches brute force', async () => {
    const ids = await cpuExactKnn(pool, N, K);
    expect(recall(ids)).toBeGreaterThanOrEqual(0.999);
  });

  it('NN-descent is deterministic on one thread', async () => {
    const p = resolveBuildParams({ intermediateDegree: 16, seed: 5 }, N, false);
    const a = nndIds((await nnDescent(pool, N, 16, p.nnDescent, 5, listsOf(arena, 16))).st);
    const b = nndIds((await nnDescent(pool, N, 16, p.nnDescent, 5, listsOf(arena, 16))).st);
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
  });
});

describe('kNN graph construction on two threads', () => {
  it('keeps its recall with concurrent inserts', async () => {
    const arena2 = arenaFor(2);
    const pool = await WorkerPool.create(arena2, 2);
    try {
      const p = resolveBuildParams({ intermediateDegree: K }, N, false);
      const ids = nndIds((await nnDescent(pool, N, K, p.nnDescent, 1, listsOf(arena2, K))).st);
      expect(recall(ids)).toBeGreaterThanOrEqual(0.9);
      for (let i = 0; i < N; i++) expect(new Set(ids.subarray(i * K, (i + 1) * K)).size).toBe(K);
    } finally {
      await pool.close();
    }
  });
});
