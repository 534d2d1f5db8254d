import { describe, expect, it } from 'vitest';
import { generateSynthetic, makeRng, namedSyntheticSpecs, parseSyntheticName } from '../../src/data/synthetic.ts';
import type { SyntheticSpec } from '../../src/data/synthetic.ts';
import type { VectorSet } from '../../src/data/types.ts';
import { expectUserError } from './helpers.ts';

const spec: SyntheticSpec = { n: 3000, nq: 50, dim: 24, clusters: 30, seed: 7, metric: 'l2' };

function meanNearestCentre(set: VectorSet, centres: VectorSet): number {
  let sum = 0;
  for (let i = 0; i < set.n; i++) {
    let best = Infinity;
    for (let c = 0; c < centres.n; c++) {
      let s = 0;
      for (let t = 0; t < set.dim; t++) {
        const d = set.data[i * set.dim + t] - centres.data[c * set.dim + t];
        s += d * d;
      }
      best = Math.min(best, s);
    }
    sum += Math.sqrt(best);
  }
  return sum / set.n;
}

describe('synthetic datasets', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = generateSynthetic(spec);
    const b = generateSynthetic(spec);
    const c = generateSynthetic({ ...spec, seed: 8 });
    expect(Buffer.from(a.base.data.buffer).equals(Buffer.from(b.base.data.buffer))).toBe(true);
    expect(Buffer.from(a.queries.data.buffer).equals(Buffer.from(b.queries.data.buffer))).toBe(true);
    expect(Buffer.from(a.base.data.buffer).equals(Buffer.from(c.base.data.buffer))).toBe(false);
    // The base does not depend on the query count.
    const d = generateSynthetic({ ...spec, nq: 5 });
    expect(Buffer.from(d.base.data.buffer).equals(Buffer.from(a.base.data.buffer))).toBe(true);
    expect(Array.from(d.queries.data)).toEqual(Array.from(a.queries.data.subarray(0, 5 * spec.dim)));
  });

  it('is clustered: points sit far closer to a centre than uniform data in the same box', () => {
    const { base, centres, labels } = generateSynthetic(spec);
    const lo = new Float32Array(spec.dim).fill(Infinity);
    const hi = new Float32Array(spec.dim).fill(-Infinity);
    for (let i = 0; i < base.data.length; i++) {
      const t = i % spec.dim;
      lo[t] = Math.min(lo[t], base.data[i]);
      hi[t] = Math.max(hi[t], base.data[i]);
    }
    const rng = makeRng(99);
    const uniform = { data: new Float32Array(base.data.length), n: base.n, dim: base.dim };
    for (let i = 0; i < uniform.data.length; i++) uniform.data[i] = lo[i % spec.dim] + rng.next() * (hi[i % spec.dim] - lo[i % spec.dim]);
    const clustered = meanNearestCentre(base, centres);
    const noise = meanNearestCentre(uniform, centres);
    expect(clustered / noise).toBeLessThan(0.5);
    // Cluster sizes are uneven (log-normal weights), and every cluster is used.
    const sizes = new Array(spec.clusters).fill(0);
    for (const l of labels) sizes[l]++;
    expect(Math.min(...sizes)).toBeGreaterThan(0);
    expect(Math.max(...sizes) / Math.min(...sizes)).toBeGreaterThan(2);
  });

  it('queries come from the distribution, not copies of base rows', () => {
    const { base, queries } = generateSynthetic(spec);
    const rows = new Set<string>();
    for (let i = 0; i < base.n; i++) rows.add(Buffer.from(base.data.buffer, i * spec.dim * 4, spec.dim * 4).toString('hex'));
    for (let i = 0; i < queries.n; i++) expect(rows.has(Buffer.from(queries.data.buffer, i * spec.dim * 4, spec.dim * 4).toString('hex'))).toBe(false);
  });

  it('named specs and the name parser', () => {
    const named = namedSyntheticSpecs();
    expect(named['synthetic-20k']).toMatchObject({ n: 20000, nq: 200, dim: 128 });
    expect(named['synthetic-100k']).toMatchObject({ n: 100000, nq: 1000, dim: 128 });
    expect(parseSyntheticName('synthetic-20k')).toEqual(named['synthetic-20k']);
    expect(parseSyntheticName('synthetic-20000')).toEqual(named['synthetic-20k']);
    expect(parseSyntheticName('synthetic-5000-d37')).toMatchObject({ n: 5000, dim: 37, nq: 50, clusters: 71, metric: 'l2' });
    expect(parseSyntheticName('synthetic-2k-d8-q7-c3-s42-angular')).toEqual({ n: 2000, nq: 7, dim: 8, clusters: 3, seed: 42, metric: 'angular' });
    expect(parseSyntheticName('siftsmall')).toBeUndefined();
  });

  it('bad names and specs give one-line errors naming the field', async () => {
    await expectUserError(() => parseSyntheticName('synthetic-abc'), "'synthetic-abc'", 'bad size');
    await expectUserError(() => parseSyntheticName('synthetic-100-x5'), "unknown part 'x5'");
    await expectUserError(() => parseSyntheticName('synthetic-100-d4-d5'), 'repeats');
    await expectUserError(() => parseSyntheticName('synthetic-100-d0'), 'dim');
    await expectUserError(() => parseSyntheticName('synthetic-10-c20'), 'clusters');
    await expectUserError(() => generateSynthetic({ ...spec, n: 1.5 }), 'n');
  });
});
