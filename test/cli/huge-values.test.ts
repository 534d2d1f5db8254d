/**
 * Finite values whose float32 squared distances overflow (about 1e19) and values beyond f16's
 * 65504: refused at the boundary with the file and row named, never a hang and never a run that
 * exits 0 with every id -1. The NN-descent fill loop itself ends on such data too.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../data/helpers.ts';
import { buildGraph } from '../../src/graph/build.ts';
import { assertDistancesFit, fitsF16, MAX_SQUARED_NORM } from '../../src/data/validate.ts';
import { crinn, expectBadInput, randomRows, writeRows } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-cli-huge-');
const p = (name: string) => path.join(dir, name);
afterAll(cleanup);

describe('values that overflow float32 distances', () => {
  it('build refuses a base near 1e19 at once, naming the file and the row', async () => {
    const base = await writeRows(p('huge.fvecs'), 200, 4, 3, 1e19);
    const r = crinn(['build', '--base', base, '--out', p('x.idx')], { timeout: 30_000 });
    expectBadInput(r, base, /row \d+ has squared norm/, 'scale the data down');
    expect(existsSync(p('x.idx'))).toBe(false);
  });

  it('groundtruth refuses instead of writing -1 ids with exit 0', async () => {
    const base = await writeRows(p('gb.fvecs'), 200, 4, 4, 1e19);
    const q = await writeRows(p('gq.fvecs'), 3, 4, 5);
    expectBadInput(crinn(['groundtruth', '--base', base, '--queries', q, '--k', '5', '--out', p('gt.ivecs'), '--cache-dir', p('c')], { timeout: 30_000 }), base, 'squared norm');
    expect(existsSync(p('gt.ivecs'))).toBe(false);
  });

  it('the bound sits where float32 stops: 1e18 passes, 1e19 does not', () => {
    const ok = randomRows(50, 4, 1, 1e18);
    expect(() => assertDistancesFit(ok, 'l2', 'ok')).not.toThrow();
    expect(() => assertDistancesFit(randomRows(50, 4, 1, 1e19), 'l2', 'bad')).toThrow(/bad: row/);
    expect(() => assertDistancesFit(randomRows(50, 4, 1, 1e19), 'angular', 'normalised later')).not.toThrow();
    // Every pair under the bound has a finite f32 squared distance.
    const big = Math.sqrt(MAX_SQUARED_NORM);
    expect(Number.isFinite(Math.fround((2 * big) ** 2))).toBe(true);
  });

  it('NN-descent ends on data whose distances are all infinite (it used to spin forever)', async () => {
    // Random signs of 3e38 in 16 dimensions: two rows almost never share a sign pattern, so almost
    // every squared distance is Infinity and the random fill is rejected again and again.
    const base = randomRows(400, 16, 9, 1);
    for (let i = 0; i < base.data.length; i++) base.data[i] = base.data[i] < 0 ? -3e38 : 3e38;
    const res = await buildGraph(base, 'l2', { threads: 1 });
    expect(res.graph.n).toBe(400);
  }, 30_000);
});

describe('values beyond f16', () => {
  it('build --storage f16 refuses values above 65504 naming the flag; f32 builds them', async () => {
    const base = await writeRows(p('f16.fvecs'), 200, 4, 6, 1e6);
    expectBadInput(crinn(['build', '--base', base, '--storage', 'f16', '--out', p('h.idx')], { timeout: 30_000 }), '--storage f16', '65504', 'use --storage f32');
    expect(existsSync(p('h.idx'))).toBe(false);
    expect(fitsF16(randomRows(10, 4, 1, 65504)).ok).toBe(true);
    expect(fitsF16(randomRows(10, 4, 1, 1e5)).ok).toBe(false);
  });
});

describe('bench storage for data beyond f16', () => {
  it('the default f16 falls back to f32 with a note; an explicit f16 is refused', async () => {
    const { storageFor } = await import('../../src/cli/commands/bench.ts');
    const big = randomRows(20, 4, 1, 1e5);
    expect(storageFor(undefined, randomRows(20, 4, 1, 100), 'small', true)).toBeUndefined();
    expect(storageFor(undefined, big, 'big', true)).toBe('f32');
    expect(storageFor('f32', big, 'big', true)).toBe('f32');
    expect(() => storageFor('f16', big, 'big', true)).toThrow(/--storage f16: big row \d+ holds/);
  });
});
