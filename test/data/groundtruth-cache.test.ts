/**
 * The ground-truth cache serves an entry only when it answers the question: an edited id, a
 * wrong distance or a truncated file is thrown away and recomputed (oracle: CPU brute force).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, truncateSync, statSync } from 'node:fs';
import path from 'node:path';
import { computeGroundTruth, readCacheEntry } from '../../src/data/groundtruth.ts';
import { bruteForceKnn } from '../../src/data/metric.ts';
import { readFvecs, readIvecs, writeFvecs, writeIvecs } from '../../src/data/vecs.ts';
import { openTestGpu, randomSet } from '../gpu/helpers.ts';
import { tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-gt-cache-');
afterAll(cleanup);
const base = randomSet(500, 8, 1);
const queries = randomSet(20, 8, 2);
const K = 10;
const oracle = bruteForceKnn(base, queries, K, 'l2');
let opened = 0;
const req = () => ({ base, queries, k: K, metric: 'l2' as const, cacheDir: dir, open: () => { opened++; return openTestGpu(); } });
let idsFile = '';
let distFile = '';

beforeAll(async () => {
  const first = await computeGroundTruth(req());
  expect(first.cached).toBe(false);
  [idsFile, distFile] = [first.idsPath, first.distancesPath];
}, 120_000);

function expectOracle(ids: Int32Array): void {
  expect(Array.from(ids)).toEqual(Array.from(oracle.ids));
}

describe('ground-truth cache validation', () => {
  it('serves a good entry without opening the GPU', async () => {
    const before = opened;
    const r = await computeGroundTruth(req());
    expect(r.cached).toBe(true);
    expect(opened).toBe(before);
    expectOracle(r.neighbors.ids);
  });

  it('an entry edited to hold id 999999 on a 500-row base is rebuilt, not served', async () => {
    const ids = await readIvecs(idsFile);
    ids.data[3] = 999999;
    await writeIvecs(idsFile, ids);
    const why: string[] = [];
    const r = await computeGroundTruth({ ...req(), onCacheRejected: (w) => why.push(w) });
    expect(r.cached).toBe(false);
    expect(why.join()).toMatch(/id 999999, outside the base's 0\.\.499/);
    expectOracle(r.neighbors.ids);
    expectOracle((await readIvecs(idsFile)).data); // the entry on disk is good again
  }, 120_000);

  it('an in-range id whose stored distance is not its distance is rebuilt', async () => {
    const ids = await readIvecs(idsFile);
    [ids.data[0], ids.data[K - 1]] = [ids.data[K - 1], ids.data[0]];
    await writeIvecs(idsFile, ids);
    const res = await readCacheEntry(idsFile, distFile, base, queries, K, 'l2');
    expect('rejected' in res && res.rejected).toMatch(/stored distance/);
  });

  it('a truncated cache file is rebuilt instead of failing forever', async () => {
    await computeGroundTruth(req()); // restore
    truncateSync(distFile, statSync(distFile).size - 7);
    const r = await computeGroundTruth(req());
    expect(r.cached).toBe(false);
    expectOracle(r.neighbors.ids);
    const again = await computeGroundTruth(req());
    expect(again.cached).toBe(true);
    expect((await readFvecs(distFile)).n).toBe(queries.n);
    expect(readdirSync(path.dirname(idsFile)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);

  it('a wrong shape (another k) is rebuilt', async () => {
    const d = await readFvecs(distFile);
    await writeFvecs(distFile, { data: d.data.subarray(0, queries.n * (K - 1)), n: queries.n, dim: K - 1 });
    const res = await readCacheEntry(idsFile, distFile, base, queries, K, 'l2');
    expect('rejected' in res && res.rejected).toMatch(/expected 20 x 10/);
  });
});
