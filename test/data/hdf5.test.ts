import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import { annHdf5Shape, readAnnHdf5, writeAnnHdf5 } from '../../src/data/hdf5.ts';
import type { AnnHdf5 } from '../../src/data/hdf5.ts';
import { expectUserError, tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-hdf5-');
afterAll(cleanup);
beforeAll(async () => {
  await h5wasm.ready;
});

function sample(): AnnHdf5 {
  const n = 300, nq = 20, dim = 16, k = 10;
  return {
    metric: 'l2',
    train: { data: Float32Array.from({ length: n * dim }, (_, i) => Math.fround(Math.cos(i) * 3)), n, dim },
    test: { data: Float32Array.from({ length: nq * dim }, (_, i) => Math.fround(Math.sin(i))), n: nq, dim },
    neighbors: { data: Int32Array.from({ length: nq * k }, (_, i) => (i * 31) % n), n: nq, dim: k },
    distances: { data: Float32Array.from({ length: nq * k }, (_, i) => i / 7), n: nq, dim: k },
  };
}

type Spec = { name: string; data: Float32Array | Int32Array | Float64Array | string[]; shape?: number[] };
/** Writes an arbitrary (possibly malformed) HDF5 file with h5wasm directly. */
function rawFile(name: string, datasets: Spec[], distance: string | null = 'euclidean'): string {
  const p = path.join(dir, name);
  const f = new h5wasm.File(p, 'w');
  if (distance !== null) f.create_attribute('distance', distance);
  for (const d of datasets) f.create_dataset({ name: d.name, data: d.data, shape: d.shape });
  f.close();
  return p;
}
const train = { name: 'train', data: new Float32Array(12), shape: [3, 4] };
const test = { name: 'test', data: new Float32Array(8), shape: [2, 4] };

describe('ann-benchmarks HDF5', () => {
  it('round trips write -> read bit-exact for every dataset and the metric', async () => {
    for (const metric of ['l2', 'angular', 'ip'] as const) {
      const src = { ...sample(), metric };
      const p = path.join(dir, `rt-${metric}.hdf5`);
      await writeAnnHdf5(p, src);
      const back = await readAnnHdf5(p);
      expect(back.metric).toBe(metric);
      for (const key of ['train', 'test', 'neighbors', 'distances'] as const) {
        const a = src[key]!, b = back[key]!;
        expect([b.n, b.dim]).toEqual([a.n, a.dim]);
        expect(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength).equals(Buffer.from(a.data.buffer))).toBe(true);
      }
      expect(await annHdf5Shape(p)).toEqual({ metric, train: { n: 300, dim: 16 }, test: { n: 20, dim: 16 }, neighbors: { n: 20, k: 10 } });
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('limit and queries read leading rows', async () => {
    const p = path.join(dir, 'rt-l2.hdf5');
    const src = sample();
    const r = await readAnnHdf5(p, { limit: 50, queries: 5 });
    expect([r.train.n, r.test.n, r.neighbors!.n, r.distances!.n]).toEqual([50, 5, 5, 5]);
    expect(Array.from(r.train.data)).toEqual(Array.from(src.train.data.subarray(0, 50 * 16)));
    expect(Array.from(r.neighbors!.data)).toEqual(Array.from(src.neighbors!.data.subarray(0, 50)));
  });

  it('converts float64 vectors and accepts files without ground truth', async () => {
    const p = rawFile('f64.hdf5', [
      { name: 'train', data: Float64Array.from([1.5, 2, 3, 4, 5, 6]), shape: [3, 2] },
      { name: 'test', data: Float64Array.from([0.25, 1]), shape: [1, 2] },
    ], 'angular');
    const r = await readAnnHdf5(p);
    expect(r.metric).toBe('angular');
    expect(Array.from(r.train.data)).toEqual([1.5, 2, 3, 4, 5, 6]);
    expect(r.neighbors).toBeUndefined();
  });
});

describe('wrong HDF5 layout gets a one-line error naming file and dataset', () => {
  it('missing dataset', async () => {
    const p = rawFile('no-test.hdf5', [train]);
    await expectUserError(readAnnHdf5(p), p, "missing dataset 'test'");
  });

  it('wrong rank', async () => {
    const p = rawFile('rank.hdf5', [{ name: 'train', data: new Float32Array(12) }, test]);
    await expectUserError(readAnnHdf5(p), p, "dataset 'train'", 'rank 1', '2-D');
  });

  it('wrong dtype', async () => {
    const p = rawFile('dtype.hdf5', [train, test, { name: 'neighbors', data: new Float32Array(4), shape: [2, 2] }]);
    await expectUserError(readAnnHdf5(p), p, "dataset 'neighbors'", 'float32', 'integer');
    const q = rawFile('strings.hdf5', [{ name: 'train', data: ['a', 'b', 'c', 'd'], shape: [2, 2] }, test]);
    await expectUserError(readAnnHdf5(q), q, "dataset 'train'", 'string', 'numeric');
  });

  it('train/test dimension mismatch and neighbors row mismatch', async () => {
    const p = rawFile('dims.hdf5', [train, { name: 'test', data: new Float32Array(6), shape: [2, 3] }]);
    await expectUserError(readAnnHdf5(p), p, "'test' has dimension 3", "'train' has 4");
    const q = rawFile('nrows.hdf5', [train, test, { name: 'neighbors', data: new Int32Array(9), shape: [3, 3] }]);
    await expectUserError(readAnnHdf5(q), q, "'neighbors' has 3 rows", "'test' has 2");
    const r = rawFile('ids.hdf5', [train, test, { name: 'neighbors', data: Int32Array.from([0, 1, 2, 3]), shape: [2, 2] }]);
    await expectUserError(readAnnHdf5(r), r, "'neighbors' row 1", 'id 3');
  });

  it('metric attribute missing or unsupported', async () => {
    const p = rawFile('nometric.hdf5', [train, test], null);
    await expectUserError(readAnnHdf5(p), p, "attribute 'distance'");
    const q = rawFile('jaccard.hdf5', [train, test], 'jaccard');
    await expectUserError(readAnnHdf5(q), q, 'jaccard');
  });

  it('NaN values name the dataset and row', async () => {
    const data = new Float32Array(12);
    data[9] = NaN;
    const p = rawFile('nan.hdf5', [{ name: 'train', data, shape: [3, 4] }, test]);
    await expectUserError(readAnnHdf5(p), p, "dataset 'train'", 'row 2', 'NaN');
  });

  it('not HDF5, truncated, missing', async () => {
    const junk = path.join(dir, 'junk.hdf5');
    writeFileSync(junk, '<html>not found</html>');
    await expectUserError(readAnnHdf5(junk), junk, 'not an HDF5 file');
    const whole = readFileSync(path.join(dir, 'rt-l2.hdf5'));
    const cut = path.join(dir, 'cut.hdf5');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    await expectUserError(readAnnHdf5(cut), cut, 'truncated');
    await expectUserError(readAnnHdf5(path.join(dir, 'nope.hdf5')), 'nope.hdf5', 'file not found');
  });
});
