import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset, EMBEDDED_DATA_DIR } from '../../src/data/resolve.ts';
import { bruteForceKnn } from '../../src/data/metric.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import { repoRoot } from './helpers.ts';

const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'datasets', 'embedded.json'), 'utf8')) as {
  groundTruthK: number;
  datasets: { name: string; metric: string; n: number; nq: number; dim: number; source: string; files: Record<string, string> }[];
};

describe('embedded datasets (shipped in datasets/embedded, need nothing outside the repository)', () => {
  it('lists a source and a sha256 for every shipped file, and the bytes match', () => {
    expect(manifest.datasets.map((d) => d.name)).toEqual(['siftsmall-5k', 'glove-50-5k']);
    for (const d of manifest.datasets) {
      expect(d.source.length).toBeGreaterThan(40);
      expect(Object.keys(d.files)).toHaveLength(3);
      for (const [file, sum] of Object.entries(d.files)) {
        const got = createHash('sha256').update(readFileSync(path.join(EMBEDDED_DATA_DIR, file))).digest('hex');
        expect(got, file).toBe(sum);
      }
    }
  });

  for (const name of ['siftsmall-5k', 'glove-50-5k']) {
    it(`${name} loads by name with no data folder, and its shipped ground truth is exact (brute-force oracle)`, async () => {
      const ds = await loadDataset(name, {});
      const m = manifest.datasets.find((d) => d.name === name)!;
      expect([ds.base.n, ds.queries.n, ds.base.dim, ds.metric]).toEqual([m.n, m.nq, m.dim, m.metric]);
      expect(ds.groundTruth!.k).toBe(manifest.groundTruthK);
      const oracle = bruteForceKnn(ds.base, ds.queries, 100, ds.metric);
      const r = recallAtK({ ids: ds.groundTruth!.ids, nq: ds.queries.n, k: 100 }, ds.base, ds.queries, ds.metric, oracle, 100);
      expect(r.recall).toBe(1);
    });
  }
});
