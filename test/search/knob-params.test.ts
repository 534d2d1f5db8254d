/**
 * The graph the evaluator's search and refine stages search when no graph stage ran
 * (eval-graph.ts defaultGraphIndex: buildParamsFor({})): the library's default build at every size.
 */
import { describe, expect, it } from 'vitest';
import { buildParamsFor } from '../../src/search/knob-params.ts';
import { resolveBuildParams } from '../../src/graph/params.ts';
import { loadBaseline } from '../../src/evolve/modules.ts';

const shape = (p: ReturnType<typeof resolveBuildParams>) => [p.graphDegree, p.intermediateDegree, p.nnDescent.iterations];

describe('buildParamsFor', () => {
  it('with no knobs is the default build: degree 64 / 128 and 20 rounds at 1M, where the graph manifest says 32 / 64 / 12', () => {
    const auto = buildParamsFor({});
    expect(shape(resolveBuildParams(auto, 1_000_000, false))).toEqual([64, 128, 20]);
    expect(shape(resolveBuildParams(resolveBuildParams({}, 1_000_000, false), 1_000_000, false))).toEqual([64, 128, 20]);
    expect(shape(resolveBuildParams(buildParamsFor(loadBaseline('graph').knobs), 1_000_000, false))).toEqual([32, 64, 12]);
    // On the small sets the evaluator's tests and shipped bundles use, the two are the same graph.
    for (const n of [2000, 5000]) expect(shape(resolveBuildParams(auto, n, false))).toEqual(shape(resolveBuildParams(buildParamsFor(loadBaseline('graph').knobs), n, false)));
    expect([auto.threads, auto.seed]).toEqual([1, 1]);
  });

  it('keeps every given knob; intermediateDegree never below graphDegree', () => {
    const p = resolveBuildParams(buildParamsFor({ graphDegree: 48, intermediateDegree: 32, nnDescentIterations: 7 }), 1_000_000, false);
    expect(shape(p)).toEqual([48, 48, 7]);
    expect(shape(resolveBuildParams(buildParamsFor({ graphDegree: 16 }), 1_000_000, false))).toEqual([16, 32, 20]);
  });
});
