/**
 * The loop's Evaluator backed by the real evaluator of `crinn evaluate` (src/evolve/evaluate.ts),
 * imported lazily so the loop and its fixture-evaluator tests load no GPU code.
 *
 * Contract 1's evaluator measures a variant against the all-baseline pipeline: it does not yet
 * run a search variant on the graph stage's best (EvaluateOptions.context is not passed on), so
 * each stage's gain is that module's own gain over the baseline.
 */
import type { Evaluator } from './loop.ts';

export interface RealEvaluatorOptions {
  adapter?: string;
  backend?: string;
  dataDir?: string;
  onProgress?: (line: string) => void;
}

export const REAL_EVALUATOR_COMPOSES_STAGES = false;

export function realEvaluator(g: RealEvaluatorOptions): Evaluator {
  let mod: Promise<typeof import('./evaluate.ts')> | undefined;
  return async (variantDir, o) => {
    mod ??= import('./evaluate.ts');
    const { evaluateVariant } = await mod;
    return evaluateVariant({
      variantDir,
      dataset: o.dataset,
      dataDir: g.dataDir,
      adapter: g.adapter !== undefined || g.backend !== undefined ? { adapter: g.adapter, backend: g.backend } : undefined,
      seed: o.seed,
      // DESIGN.md: a reward above 3x the best so far is re-measured before it is believed.
      remeasureAbove: o.bestSoFar !== null && o.bestSoFar !== undefined ? 3 * o.bestSoFar : undefined,
      onProgress: g.onProgress,
      ...o.options,
    });
  };
}
