/**
 * The tuned bundles shipped under kernels/ (SHIPPED_KERNELS, picked by AnnEngine.open per adapter
 * and dataset): every folder there but the module baselines is a bundle that loads (schema,
 * content hash), and each one, run on this adapter with its own graph and search knobs on the
 * dataset it was tuned on, keeps the recall its run measured relative to the baseline at each swept
 * effort: recall(bundle) - recall(baseline kernels) on the dataset's queries is at least what the
 * manifest recorded (curve minus baselineCurve), 0.02 below it for ties and float order. Relative,
 * because the evaluator's recall is over its own query pool (the dataset's queries, then perturbed
 * base rows: src/evolve/query-pool.ts), an easier workload than the dataset's queries alone, so the
 * absolute figures do not carry over (siftsmall-5k at effort 4: 0.946 in the pool, 0.736 here, the
 * same for both kernels); recall does not depend on the adapter.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { bundleDirs, loadKernelBundle, SHIPPED_KERNELS } from '../../src/search/bundle.ts';
import { AnnEngine, buildIndex, indexOnGraph } from '../../src/search/engine.ts';
import { kernelBuildParams } from '../../src/search/kernel-params.ts';
import { effortParams } from '../../src/search/params.ts';
import { loadDataset } from '../../src/data/resolve.ts';
import { datasetFingerprint } from '../../src/data/fingerprint.ts';
import { bruteForceKnn } from '../../src/data/metric.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import { openTestGpu } from '../gpu/helpers.ts';

const SLOW = 600_000;
const shipped = bundleDirs(SHIPPED_KERNELS);

describe('shipped kernel bundles (kernels/)', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await openTestGpu();
  });
  afterAll(() => ctx?.destroy());

  it('every folder under kernels/ other than the module baselines is a bundle', () => {
    const folders = readdirSync(SHIPPED_KERNELS, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== 'baseline').map((e) => path.join(SHIPPED_KERNELS, e.name));
    expect(shipped.sort()).toEqual(folders.sort());
  });

  for (const dir of shipped) {
    it(`${path.basename(dir)}: loads and keeps its recorded recall relative to the baseline on its dataset`, async () => {
      const bundle = loadKernelBundle(dir);
      type Pt = { effort: number; recall: number };
      const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { dataset: { name: string; fingerprint: string | null }; curve: Pt[]; baselineCurve: Pt[] };
      const ds = await loadDataset(m.dataset.name, {});
      if (m.dataset.fingerprint) expect(datasetFingerprint(ds), 'the bundle was tuned on this data').toBe(m.dataset.fingerprint);
      const { index } = await buildIndex(ds.base, ds.metric, {}, { kernels: bundle, quiet: true });
      const engine = await AnnEngine.open(ctx, index, { kernels: bundle });
      // The baseline: default build, baseline kernels and params (the evaluator's all-baseline side);
      // a bundle without graph knobs built that same graph, so only the codec is trained again.
      const sameGraph = Object.keys(kernelBuildParams(bundle)).length === 0;
      const baseIndex = sameGraph ? indexOnGraph(ds.base, ds.metric, { graph: index.graph, entryPoints: index.entryPoints, entryLayer: index.entryLayer, params: index.buildParams }) : (await buildIndex(ds.base, ds.metric, {}, { quiet: true })).index;
      const base = new AnnEngine(ctx, baseIndex);
      try {
        const truth = bruteForceKnn(ds.base, ds.queries, 10, ds.metric);
        const recall = async (e: AnnEngine, effort: number) => recallAtK(await e.search(ds.queries, 10, effortParams(effort, 10)), ds.base, ds.queries, ds.metric, truth, 10).recall;
        // The efforts both sides were measured at: the lowest, a middle and the highest (each effort is
        // a kernel compile per side; three span the curve).
        const paired = m.curve.flatMap((pt) => m.baselineCurve.filter((b) => b.effort === pt.effort).map((b) => ({ pt, bp: b }))).sort((a, b) => a.pt.effort - b.pt.effort);
        expect(paired.length).toBeGreaterThan(0);
        const spread = [...new Set([0, paired.length >> 1, paired.length - 1])].map((i) => paired[i]);
        for (const { pt, bp } of spread) {
          const floor = (await recall(base, pt.effort)) + (pt.recall - bp.recall) - 0.02;
          expect(await recall(engine, pt.effort), `effort ${pt.effort}`).toBeGreaterThanOrEqual(floor);
        }
      } finally {
        engine.destroy();
        base.destroy();
      }
    }, SLOW);
  }
});
