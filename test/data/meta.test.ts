import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { annDatasets, findAnnDataset, parseAnnManifest, ANN_MANIFEST_FILE } from '../../src/data/manifest.ts';
import { datasetFingerprint, shortFingerprint } from '../../src/data/fingerprint.ts';
import { datasetStats, formatStats, vectorStats } from '../../src/data/stats.ts';
import type { Dataset } from '../../src/data/types.ts';
import { expectUserError } from './helpers.ts';

describe('ann-benchmarks manifest', () => {
  it('lists the known sets with URLs, shapes and metrics', () => {
    const names = annDatasets().map((d) => d.name);
    for (const n of ['sift-128-euclidean', 'gist-960-euclidean', 'glove-25-angular', 'glove-50-angular', 'glove-100-angular', 'glove-200-angular', 'nytimes-256-angular', 'mnist-784-euclidean', 'fashion-mnist-784-euclidean', 'deep-image-96-angular', 'lastfm-64-dot']) {
      expect(names).toContain(n);
      expect(findAnnDataset(n)!.url).toBe(`http://ann-benchmarks.com/${n}.hdf5`);
    }
    expect(findAnnDataset('sift-128-euclidean')).toMatchObject({ dim: 128, train: 1_000_000, test: 10_000, metric: 'l2' });
    expect(findAnnDataset('gist-960-euclidean')).toMatchObject({ dim: 960, test: 1000 });
    // Checksums are never guessed: either null or a real 64-hex digest.
    for (const d of annDatasets()) expect(d.sha256 === null || /^[0-9a-f]{64}$/.test(d.sha256)).toBe(true);
  });

  it('rejects a malformed manifest naming the field', async () => {
    const doc = JSON.parse(readFileSync(ANN_MANIFEST_FILE, 'utf8'));
    doc.datasets[2].dim = -3;
    await expectUserError(() => parseAnnManifest(doc, 'm.json'), 'm.json', 'datasets.2.dim');
    const dup = JSON.parse(readFileSync(ANN_MANIFEST_FILE, 'utf8'));
    dup.datasets.push(dup.datasets[0]);
    await expectUserError(() => parseAnnManifest(dup, 'm.json'), 'unique');
  });
});

function tiny(): Dataset {
  return {
    name: 'tiny',
    metric: 'l2',
    base: { data: Float32Array.from([0, 0, 1, 2, 1, 2, 3, 0]), n: 4, dim: 2 },
    queries: { data: Float32Array.from([1, 2, 5, 5]), n: 2, dim: 2 },
    source: 'memory',
  };
}

describe('fingerprint', () => {
  it('is stable, content-based and sensitive to every input', () => {
    const a = datasetFingerprint(tiny());
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    const renamed: Dataset = { ...tiny(), name: 'other', source: 'elsewhere' };
    expect(datasetFingerprint(renamed)).toBe(a);
    expect(datasetFingerprint({ ...tiny(), metric: 'ip' })).not.toBe(a);
    const b = tiny();
    b.base.data[7] = 1e-7;
    expect(datasetFingerprint(b)).not.toBe(a);
    // Same bytes, different shape.
    const c = tiny();
    c.base = { data: c.base.data, n: 2, dim: 4 };
    expect(datasetFingerprint(c)).not.toBe(a);
    expect(shortFingerprint(a)).toBe(a.slice(0, 12));
  });
});

describe('stats', () => {
  it('computes norms, value range, sparsity and duplicates', () => {
    const s = datasetStats(tiny());
    expect(s.base).toMatchObject({ n: 4, dim: 2, duplicateRows: 1, zeroPercent: 37.5 });
    expect(s.base.norm.min).toBe(0);
    expect(s.base.norm.max).toBe(3);
    expect(s.base.value).toMatchObject({ min: 0, max: 3 });
    expect(s.queriesInBase).toBe(1);
    expect(s.groundTruth).toBeNull();
    expect(vectorStats({ data: new Float32Array(0), n: 0, dim: 3 }).norm).toEqual({ min: 0, max: 0, mean: 0 });
    const text = formatStats(s);
    expect(text).toContain('4 x 2');
    expect(text).toContain('37.50%');
  });
});
