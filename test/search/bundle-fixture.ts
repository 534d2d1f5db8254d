/**
 * A run folder whose variants are the shipped kernels (real WGSL, real knob tables) with a synthetic,
 * GPU-free reward, so `crinn export` writes a bundle the engine can really run. The reward prefers
 * searchWidth 2, numSeeds 32, refineFactor 3 and graphDegree 24; knob combinations the real search
 * refuses (workgroupSize not a multiple of teamSize) or that crowd a workgroup fail, as the real
 * evaluator would fail them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Verdict } from '../../src/evolve/contract.ts';
import type { ModuleName } from '../../src/bundle/module-manifest.ts';
import { shippedBaseline, startRun, type EvaluateOptions } from '../../src/evolve/loop.ts';
import { readFileSync } from 'node:fs';

const PREF: Record<string, number> = { searchWidth: 2, numSeeds: 32, refineFactor: 3, graphDegree: 24 };

export function fixtureEvaluator(adapter: string) {
  return async (variantDir: string, o: EvaluateOptions): Promise<Verdict> => {
    const v = JSON.parse(readFileSync(path.join(variantDir, 'variant.json'), 'utf8')) as { knobValues: Record<string, number> };
    const x = v.knobValues;
    const bad = o.module === 'search' && (x.workgroupSize % x.teamSize !== 0 || x.workgroupSize / x.teamSize > 4);
    let reward = 1;
    for (const [k, want] of Object.entries(PREF)) if (k in x) reward *= 1 + 0.1 * Math.exp(-Math.abs(x[k] - want));
    const base = 1000;
    const curve = (q: number) => [0.8, 0.9, 0.96].map((r, i) => ({ effort: 16 << i, recall: r, qps: q * (1.2 - r), evaluations: 400 * (i + 1) }));
    return {
      status: bad ? 'failed' : 'ok', stage: bad ? 'compile' : 'reward', reason: bad ? 'workgroupSize/teamSize' : '',
      module: o.module, variantHash: path.basename(variantDir), dataset: o.dataset, adapter,
      variantAuc: bad ? null : base * reward, baselineAuc: base, reward: bad ? null : reward,
      qpsAt90: bad ? null : base * reward * 0.3, qpsAt95: bad ? null : base * reward * 0.25, qpsAt99: null,
      evaluationsAt95: bad ? null : 800 / reward,
      variantCurve: bad ? [] : curve(base * reward), baselineCurve: curve(base), seconds: 0,
    };
  };
}

/** A finished run over `stages` with `evals` evaluations, as if measured on `adapter`. */
export async function realKernelRun(adapter: string, stages: ModuleName[] = ['graph', 'search', 'refine'], evals = 9): Promise<string> {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'crinn-bundle-run-')), 'run');
  await startRun(dir, { dataset: 'synthetic-2000-d16', policy: 'autotune', stages, budget: { evals }, seed: 5, spread: 0.01, patience: 100, evaluator: {} }, { evaluate: fixtureEvaluator(adapter), baseline: shippedBaseline });
  return dir;
}
