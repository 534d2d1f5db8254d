/**
 * The tuned bundles shipped under kernels/ (SHIPPED_KERNELS, picked by AnnEngine.open per adapter
 * and dataset): every folder there but the module baselines is a bundle that loads (schema,
 * content hash), and each one, run on this adapter with its own graph and search knobs on the
 * dataset it was tuned on, reaches the recall its manifest recorded at each swept effort (recall
 * does not depend on the adapter; 0.02 below it for ties and float order).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { bundleDirs, loadKernelBundle, SHIPPED_KERNELS } from '../../src/search/bundle.ts';
import { AnnEngine, buildIndex } from '../../src/search/engine.ts';
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
    it(`${path.basename(dir)}: loads and reaches its recorded recall on its dataset`, async () => {
      const bundle = loadKernelBundle(dir);
      const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { dataset: { name: string; fingerprint: string | null }; curve: { effort: number; recall: number }[] };
      const ds = await loadDataset(m.dataset.name, {});
      if (m.dataset.fingerprint) expect(datasetFingerprint(ds), 'the bundle was tuned on this data').toBe(m.dataset.fingerprint);
      const { index } = await buildIndex(ds.base, ds.metric, {}, { kernels: bundle, quiet: true });
      const engine = await AnnEngine.open(ctx, index, { kernels: bundle });
      try {
        const truth = bruteForceKnn(ds.base, ds.queries, 10, ds.metric);
        expect(m.curve.length).toBeGreaterThan(0);
        for (const pt of m.curve) {
          const r = await engine.search(ds.queries, 10, effortParams(pt.effort, 10));
          expect(recallAtK(r, ds.base, ds.queries, ds.metric, truth, 10).recall, `effort ${pt.effort}`).toBeGreaterThanOrEqual(pt.recall - 0.02);
        }
      } finally {
        engine.destroy();
      }
    }, SLOW);
  }
});
