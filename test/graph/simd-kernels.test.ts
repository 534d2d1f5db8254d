import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { distance } from '../../src/data/metric.ts';
import { attachArena, createArena } from '../../src/graph/arena.ts';
import { SIMD_KERNELS_WASM } from '../../src/graph/simd-kernels.wasm.ts';
import { assembleKernels, bytesModule, BYTES_PATH } from '../../scripts/build-wasm.ts';
import { gaussianMixture } from './helpers.ts';

describe('kernel module source', () => {
  it('the committed bytes are what simd-kernels.wat assembles to (else: npm run build:wasm)', async () => {
    const bytes = await assembleKernels();
    expect(Buffer.from(SIMD_KERNELS_WASM).equals(Buffer.from(bytes))).toBe(true);
    expect(readFileSync(BYTES_PATH, 'utf8')).toBe(bytesModule(bytes));
  });
});

describe('SIMD distance kernels', () => {
  for (const dim of [1, 3, 4, 7, 32, 130]) {
    it(`match the CPU reference at dim ${dim}`, () => {
      const base = gaussianMixture(50, dim, 3, 0.5, dim);
      for (const metric of ['l2', 'ip'] as const) {
        const a = attachArena(createArena(base.data, base.n, dim, metric === 'l2', 1), 0);
        for (let j = 0; j < 50; j++) a.ids[j] = 49 - j;
        for (const count of [1, 3, 4, 5, 50]) {
          a.dist(7 * a.layout.stride, 0, a.layout.stride, a.idsPtr, count, a.outPtr, a.layout.stride);
          for (let j = 0; j < count; j++) {
            const ref = distance(metric, base.data, 7, base.data, 49 - j, dim);
            expect(a.out[j]).toBeCloseTo(ref, 3);
          }
        }
        // The same pair gives the same bits whichever side is the query (the lists rely on it).
        a.ids[0] = 3;
        a.dist(11 * a.layout.stride, 0, a.layout.stride, a.idsPtr, 1, a.outPtr, a.layout.stride);
        const x = a.out[0];
        for (let j = 0; j < 5; j++) a.ids[j] = 11;
        a.dist(3 * a.layout.stride, 0, a.layout.stride, a.idsPtr, 5, a.outPtr, a.layout.stride);
        for (let j = 0; j < 5; j++) expect(a.out[j]).toBe(x);
      }
    });
  }
});

describe('list kernels', () => {
  const n = 60;
  const K = 8;
  const base = gaussianMixture(n, 4, 2, 0.5, 5);
  const a = attachArena(createArena(base.data, n, 4, true, 1, { listInts: K, knownBytes: 32 * 33 }), 0);
  // Lists of distinct random neighbours, stored as codes (id << 1 | flag).
  let x = 12345;
  const rand = (m: number): number => ((x = (x * 1103515245 + 12345) & 0x7fffffff) % m);
  for (let i = 0; i < n; i++) {
    const row = new Set<number>();
    while (row.size < K) {
      const v = rand(n);
      if (v !== i) row.add(v);
    }
    Array.from(row).forEach((v, r) => (a.lists[i * K + r] = (v << 1) | (r & 1)));
  }
  const id = (i: number, r: number): number => a.lists[i * K + r] >> 1;

  it('detours matches the reference count', () => {
    const det = new Int32Array(a.out.buffer, a.outPtr, K + 1);
    for (let node = 0; node < n; node++) {
      for (let j = 0; j < K; j++) a.slot[id(node, j)] = j + 1;
      det.fill(0);
      a.detours(a.layout.listPtr, K, node, a.slotPtr, a.outPtr, 0, 0);
      const ref = new Array<number>(K).fill(0);
      for (let i = 0; i < K - 1; i++) {
        for (let r = 0; r < K - 1; r++) {
          const j = Array.from({ length: K }, (_, t) => id(node, t)).indexOf(id(id(node, i), r));
          if (j > i && j > r) ref[j]++;
        }
      }
      expect(Array.from(det.subarray(1))).toEqual(ref);
      for (let j = 0; j < K; j++) a.slot[id(node, j)] = 0;
    }
  });

  it('scanKnown marks which candidates sit in which lists', () => {
    const cand = [3, 17, 42, 8, 25];
    const m = cand.length;
    cand.forEach((c, p) => {
      a.ids[p] = c;
      a.slot[c] = p + 1;
    });
    a.known.fill(7);
    a.scanKnown(a.layout.listPtr, K * 4, a.idsPtr, m, a.slotPtr, a.knownPtr, m + 1);
    for (let p = 0; p < m; p++) {
      const list = new Set(Array.from({ length: K }, (_, r) => id(cand[p], r)));
      for (let q = 0; q < m; q++) expect(a.known[p * (m + 1) + 1 + q]).toBe(list.has(cand[q]) ? 1 : 0);
    }
    cand.forEach((c) => (a.slot[c] = 0));
  });
});
