/**
 * The loop's Evaluator backed by the real evaluator of `crinn evaluate` (src/evolve/evaluate.ts).
 * Loaded lazily so the loop (and its tests with a fixture evaluator) do not need a GPU.
 */
import type { Evaluator } from './loop.ts';
import { EnvironmentError } from '../errors.ts';

export function realEvaluator(g: { adapter?: string; backend?: string; dataDir?: string; quiet?: boolean }): Evaluator {
  return async (variantDir, o) => {
    const spec = './evaluate.ts';
    let mod: { evaluateVariant?: (opts: Record<string, unknown>) => Promise<unknown> };
    try {
      mod = await import(spec);
    } catch (err) {
      throw new EnvironmentError(`the evaluator (src/evolve/evaluate.ts) is not available: ${(err as Error).message}`);
    }
    if (!mod.evaluateVariant) throw new EnvironmentError('src/evolve/evaluate.ts exports no evaluateVariant');
    return (await mod.evaluateVariant({ variantDir, dataset: o.dataset, seed: o.seed, context: o.context, adapter: g.adapter, backend: g.backend, dataDir: g.dataDir, ...o.options })) as never;
  };
}
