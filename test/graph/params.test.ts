import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { DEFAULT_BUILD_PARAMS, resolveBuildParams, validateBuildParams } from '../../src/graph/params.ts';

describe('build params', () => {
  it('resolves the autos from n', () => {
    const p = resolveBuildParams({}, 100_000, false);
    expect(p.graphDegree).toBe(32);
    expect(p.intermediateDegree).toBe(64);
    expect(p.knn).toBe('nn-descent');
    expect(p.vamana.R).toBe(32);
    expect(p.numEntryPoints).toBe(256);
    expect(p.threads).toBeGreaterThanOrEqual(1);
    expect(resolveBuildParams({}, 1_000_000, false).graphDegree).toBe(64);
    // NN-descent's round cap grows with log2 n (pynndescent n_iters; cuVS max_iterations 20 at 1M).
    expect(p.nnDescent.iterations).toBe(17);
    expect(resolveBuildParams({}, 1_000_000, false).nnDescent.iterations).toBe(20);
    expect(resolveBuildParams({}, 1000, false).nnDescent.iterations).toBe(12);
    expect(resolveBuildParams({ nnDescent: { iterations: 5 } }, 1_000_000, false).nnDescent.iterations).toBe(5);
    expect(resolveBuildParams({}, 10_000, true).knn).toBe('exact');
    expect(resolveBuildParams({}, 60_000, true).knn).toBe('nn-descent');
  });

  it('clamps auto degrees to tiny bases', () => {
    const p = resolveBuildParams({}, 10, false);
    expect(p.graphDegree).toBe(9);
    expect(p.intermediateDegree).toBe(9);
    expect(p.numEntryPoints).toBe(10);
  });

  it('keeps explicit values and nested partials', () => {
    const p = validateBuildParams({ graphDegree: 48, nnDescent: { rho: 0.5 } });
    expect(p.graphDegree).toBe(48);
    expect(p.nnDescent.rho).toBe(0.5);
    expect(p.nnDescent.iterations).toBe(DEFAULT_BUILD_PARAMS.nnDescent.iterations);
  });

  const bad: [string, object][] = [
    ['graphDegree', { graphDegree: 200 }],
    ['graphDegree', { graphDegree: 1.5 }],
    ['intermediateDegree', { graphDegree: 64, intermediateDegree: 32 }],
    ['algorithm', { algorithm: 'hnsw' }],
    ['knn', { knn: 'gpu' }],
    ['nnDescent.rho', { nnDescent: { rho: 0 } }],
    ['nnDescent.iterations', { nnDescent: { iterations: -1 } }],
    ['vamana.alpha', { vamana: { alpha: 0.5 } }],
    ['seed', { seed: -1 }],
    ['threads', { threads: 1000 }],
    ["unknown field 'degree'", { degree: 3 }],
    ["unknown field 'nnDescent.rh'", { nnDescent: { rh: 1 } }],
  ];
  for (const [field, input] of bad) {
    it(`rejects a bad ${field}`, () => {
      expect(() => validateBuildParams(input as never)).toThrow(UserError);
      expect(() => validateBuildParams(input as never)).toThrow(field);
    });
  }

  it('rejects explicit degrees the base cannot hold', () => {
    expect(() => resolveBuildParams({ graphDegree: 32 }, 10, false)).toThrow(/graphDegree.*n - 1 = 9/);
  });
});
