/**
 * The loop's Evaluator backed by the real evaluator of `crinn evaluate` (src/evolve/evaluate.ts),
 * imported lazily so the loop and its fixture-evaluator tests load no GPU code.
 *
 * The earlier stages' best variants (EvaluateOptions.context) go to both sides of the evaluation,
 * so a stage's reward is its module's own gain on the pipeline the earlier stages tuned, and the
 * run's overall gain is the product of the stages' gains (runs.ts renderSummary).
 */
import type { Evaluator } from './loop.ts';

export interface RealEvaluatorOptions {
  adapter?: string;
  backend?: string;
  dataDir?: string;
  onProgress?: (line: string) => void;
}

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
      context: o.context,
      // DESIGN.md: a reward above 3x the best so far is re-measured before it is believed.
      remeasureAbove: o.bestSoFar !== null && o.bestSoFar !== undefined ? 3 * o.bestSoFar : undefined,
      onProgress: g.onProgress,
      deadline: o.deadline,
      ...o.options,
    });
  };
}
