import { describe, expect, it } from 'vitest';
import { distance } from '../../src/data/metric.ts';
import { attachArena, createArena } from '../../src/index/simd-kernels.ts';
import { gaussianMixture } from './helpers.ts';

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
