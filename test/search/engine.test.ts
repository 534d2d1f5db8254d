import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { GpuContext } from '../../src/gpu/device.ts';
import { EMBEDDED_DATA_DIR, loadDataset } from '../../src/data/resolve.ts';
import { computeGroundTruth } from '../../src/data/groundtruth.ts';
import { readIvecs } from '../../src/data/vecs.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import { AnnEngine, buildIndex, loadIndex, saveIndex } from '../../src/search/engine.ts';
import { cpuBeamSearch } from '../../src/search/cpu-search.ts';
import { openTestGpu } from '../gpu/helpers.ts';
import { tempDir, repoRoot } from '../data/helpers.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await openTestGpu();
});
afterAll(() => ctx?.destroy());

describe('engine: build, save, load, search', () => {
  it('reaches recall@10 >= 0.95 on siftsmall-5k (shipped ground truth), agrees with the CPU reference, and round-trips through a file', async () => {
    const ds = await loadDataset('siftsmall-5k');
    const { index } = await buildIndex(ds.base, ds.metric, { seed: 3 }, { ctx, quiet: true });
    const { dir, cleanup } = tempDir('crinn-engine-');
    try {
      const file = path.join(dir, 'sift.idx');
      await saveIndex(file, index);
      const loaded = await loadIndex(file);
      expect(Buffer.compare(Buffer.from(loaded.graph.neighbors.buffer), Buffer.from(index.graph.neighbors.buffer))).toBe(0);
      const engine = new AnnEngine(ctx, loaded);
      try {
        const res = await engine.search(ds.queries, 10, { itopk: 64 });
        const gpuRecall = recallAtK(res, ds.base, ds.queries, ds.metric, ds.groundTruth!, 10).recall;
        expect(gpuRecall).toBeGreaterThanOrEqual(0.95);
        const cpu = cpuBeamSearch(loaded, ds.queries, 10, { itopk: 64 });
        const cpuRecall = recallAtK(cpu, ds.base, ds.queries, ds.metric, ds.groundTruth!, 10).recall;
        expect(Math.abs(gpuRecall - cpuRecall)).toBeLessThanOrEqual(0.01);
      } finally {
        engine.destroy();
      }
    } finally {
      cleanup();
    }
  });

  it('reaches recall@10 >= 0.95 on GloVe-50 5k (angular) against GPU-exact ground truth, with f16 storage', async () => {
    const ds = await loadDataset('glove-50-5k');
    const { dir, cleanup } = tempDir('crinn-gt-');
    try {
      const gt = await computeGroundTruth({ base: ds.base, queries: ds.queries, k: 10, metric: ds.metric, cacheDir: dir, open: openTestGpu });
      const { index } = await buildIndex(ds.base, ds.metric, {}, { ctx, storage: 'f16', quiet: true });
      const engine = new AnnEngine(ctx, index);
      try {
        const res = await engine.search(ds.queries, 10, { itopk: 128 });
        expect(recallAtK(res, ds.base, ds.queries, ds.metric, gt.neighbors, 10).recall).toBeGreaterThanOrEqual(0.95);
      } finally {
        engine.destroy();
      }
    } finally {
      cleanup();
    }
  });
});

describe('crinn build / crinn search (CLI)', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), ...args], { encoding: 'utf8', timeout: 300_000 });

  it('builds and searches siftsmall-5k end to end, and rejects a damaged index with exit 1', async () => {
    const { dir, cleanup } = tempDir('crinn-cli-');
    try {
      const sift = path.join(EMBEDDED_DATA_DIR, 'siftsmall-5k');
      const idx = path.join(dir, 'sift.idx');
      const out = path.join(dir, 'res.ivecs');
      let r = cli(['--quiet', 'build', '--base', path.join(sift, 'base.bvecs'), '--metric', 'l2', '--out', idx]);
      expect(r.status, r.stderr).toBe(0);
      r = cli(['--quiet', 'search', '--index', idx, '--queries', path.join(sift, 'query.bvecs'), '--k', '10', '--ef', '64', '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      const ids = await readIvecs(out);
      expect(ids.n).toBe(100);
      const ds = await loadDataset('siftsmall-5k');
      expect(recallAtK({ ids: ids.data, nq: ids.n, k: ids.dim }, ds.base, ds.queries, 'l2', ds.groundTruth!, 10).recall).toBeGreaterThanOrEqual(0.95);

      const bytes = readFileSync(idx);
      bytes[bytes.length >> 1] ^= 0xff;
      writeFileSync(idx, bytes);
      r = cli(['search', '--index', idx, '--queries', path.join(sift, 'query.bvecs'), '--out', path.join(dir, 'x.ivecs')]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/sift\.idx.*corrupt/i);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('crinn:'))).toHaveLength(1);
    } finally {
      cleanup();
    }
  });
});
