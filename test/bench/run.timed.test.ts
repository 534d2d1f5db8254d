import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLines } from '../../src/bench/memory.ts';
import { runBench, type BenchEvent } from '../../src/bench/run.ts';
import { benchResultSchema } from '../../src/bench/schema.ts';
import { registerSystem, unregisterSystem } from '../../src/bench/systems.ts';
import { importPeer, packageVersion, type BenchSystem } from '../../src/bench/bench-system.ts';
import { bruteForceSearch } from '../../src/bench/peers/bruteforce.ts';
import { datasetFingerprint } from '../../src/data/fingerprint.ts';
import { loadDataset } from '../../src/data/resolve.ts';
import type { Dataset, VectorSet } from '../../src/data/types.ts';
import { openGpu } from '../../src/gpu/device.ts';
import { seededRng } from '../../src/bench/sweep.ts';
import { tempDir } from '../data/helpers.ts';

const { dir: cacheDir, cleanup } = tempDir('crinn-bench-run-');
afterAll(cleanup);
const hasUsearch = packageVersion('usearch') !== undefined;
/** Appended to the name of a usearch test when it skips, so the summary reporter shows why. */
const NO_USEARCH = hasUsearch ? '' : ' (SKIPPED: usearch not installed: npm install usearch)';

let ds: Dataset;
beforeAll(async () => {
  ds = await loadDataset('synthetic-3000-d32', { queries: 50 });
});

/** A fake system whose recall is ~min(1, effort / 64): that many queries get exact ids, the rest wrong ones. */
function curveSystem(name: string): BenchSystem {
  let exact: Int32Array | undefined;
  let n = 0;
  return {
    name,
    kind: 'gpu',
    params: { fake: true },
    efforts: [8, 16, 32, 64],
    minEffort: 1,
    maxEffort: 256,
    async build(d) {
      exact = bruteForceSearch(d.base, d.queries, 10, d.metric).ids;
      n = d.base.n;
      return { seconds: 0, params: {} };
    },
    async search(queries: VectorSet, k: number, effort: number) {
      const good = Math.round(queries.n * Math.min(1, effort / 64));
      const ids = new Int32Array(queries.n * k);
      for (let i = 0; i < ids.length; i++) ids[i] = i < good * k ? exact![i] : (exact![i] + Math.floor(n / 2)) % n;
      return ids;
    },
    // Work per query: a made-up 10 per unit of effort, so the recorded figures can be checked.
    async evaluations(_q: VectorSet, _k: number, effort: number) {
      return effort * 10;
    },
    async close() {},
  };
}

/** Returns seeded random ids: recall stays near k/n whatever the effort. */
function randomSystem(): BenchSystem {
  let n = 0;
  return {
    name: 'random-ids',
    kind: 'cpu-peer',
    params: {},
    efforts: [1, 2],
    minEffort: 1,
    maxEffort: 8,
    async build(d) {
      n = d.base.n;
      return { seconds: 0, params: {} };
    },
    async search(queries: VectorSet, k: number) {
      const rng = seededRng(3);
      return Int32Array.from({ length: queries.n * k }, () => Math.floor(rng() * n));
    },
    async close() {},
  };
}

function failing(name: string, where: 'build' | 'search'): BenchSystem {
  return {
    name,
    kind: 'cpu-peer',
    params: {},
    efforts: [4],
    minEffort: 1,
    maxEffort: 8,
    async build() {
      if (where === 'build') throw new Error('out of\nmemory');
      return { seconds: 0, params: {} };
    },
    async search() {
      throw new Error('kernel crashed');
    },
    async close() {},
  };
}

describe('runBench', () => {
  /** The first test's result, with usearch in it where installed: the usearch test below checks its row. */
  let withUsearch: Awaited<ReturnType<typeof runBench>> | undefined;

  it('measures exact systems (and usearch, where installed) into a schema-valid result', async () => {
    const events: BenchEvent[] = [];
    const systems = ['bruteforce', 'gpu-exact', ...(hasUsearch ? ['usearch'] : [])];
    // One build thread: a multi-threaded HNSW build differs run to run, and the curve-shape checks below should not.
    const r = await runBench({ dataset: ds, systems, systemOptions: { usearch: { threads: 1 } }, seed: 5, cacheDir, ctxProvider: () => openGpu(), onProgress: (e) => events.push(e) });
    withUsearch = r;
    expect(benchResultSchema.safeParse(JSON.parse(JSON.stringify(r))).success).toBe(true);
    expect(r.dataset).toMatchObject({ name: 'synthetic-3000-d32', n: 3000, dim: 32, nq: 50, metric: 'l2', k: 10, fingerprint: datasetFingerprint(ds) });
    expect(r.adapter?.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(r.versions).toMatchObject({ node: process.version, crinn: expect.any(String) });
    expect(r.seeds.order).toBe(5);
    const by = Object.fromEntries(r.systems.map((s) => [s.name, s]));
    for (const exact of ['bruteforce', 'gpu-exact']) {
      const s = by[exact];
      expect(s.error).toBeUndefined();
      expect(s.points).toHaveLength(1);
      expect(s.points[0].recall).toBe(1);
      expect(s.points[0].seconds).toHaveLength(3);
      expect(s.reachedWindow).toBe(true);
      expect(s.summary.auc).toBeCloseTo(s.points[0].qps, 6);
    }
    expect(by.bruteforce.kind).toBe('oracle');
    expect(by['gpu-exact'].kind).toBe('gpu');
    // Device memory: gpu-exact holds its base rows (3000 x 32 f32, at least) after the build, more during a search; CPU systems none.
    const held = by['gpu-exact'].build.params.deviceIndexBytes as number;
    expect(held).toBeGreaterThanOrEqual(3000 * 32 * 4);
    expect(held).toBeLessThan(2 * 3000 * 32 * 4);
    expect(by['gpu-exact'].params.searchDevicePeakBytes as number).toBeGreaterThan(held);
    expect(by.bruteforce.build.params.deviceIndexBytes).toBeUndefined();
    expect(by.bruteforce.params.searchDevicePeakBytes).toBeUndefined();
    expect(memoryLines(r).find((l) => l.startsWith('memory gpu-exact:'))).toMatch(/device: index 0\.[45] MiB; device search peak \d+\.\d MiB/);
    expect(events.filter((e) => e.type === 'build' && e.state === 'done')).toHaveLength(systems.length);
    expect(events.filter((e) => e.type === 'point').length).toBe(r.systems.reduce((a, s) => a + s.points.length, 0));
  });

  it.skipIf(!hasUsearch)(`measures usearch in that run: a sweep of >= 5 points, recall broadly rising to >= 0.99${NO_USEARCH}`, () => {
    expect(withUsearch, 'the run of the test above').toBeDefined();
    const r = withUsearch!;
    const u = r.systems.find((s) => s.name === 'usearch')!;
    expect(u, 'a usearch row').toBeDefined();
    expect(u.kind).toBe('cpu-peer');
    expect(u.error).toBeUndefined();
    expect(r.versions.usearch).toMatch(/^\d+\.\d+\.\d+/);
    expect(u.build.seconds).toBeGreaterThan(0);
    expect(u.build.params).toMatchObject({ M: 16, efConstruction: 200 });
    expect(u.points.length).toBeGreaterThanOrEqual(5);
    // Broadly increasing: ef at or below k is no better than the top, and no big drop between neighbours.
    const rec = u.points.map((p) => p.recall);
    expect(rec[rec.length - 1]).toBeGreaterThanOrEqual(0.99);
    expect(rec[rec.length - 1]).toBeGreaterThanOrEqual(rec[0]);
    for (let i = 1; i < rec.length; i++) expect(rec[i]).toBeGreaterThanOrEqual(rec[i - 1] - 0.02);
    expect(u.points[0].effort).toBeGreaterThanOrEqual(10);
  });

  it('interleaves points in an order fixed by the seed', async () => {
    const orderOf = async (seed: number) => {
      const order: string[] = [];
      const r = await runBench({
        dataset: ds,
        systems: [curveSystem('curve-a'), curveSystem('curve-b'), 'bruteforce'],
        seed,
        cacheDir,
        ctxProvider: () => openGpu(),
        onProgress: (e) => {
          if (e.type === 'point') order.push(`${e.system}:${e.effort}`);
        },
      });
      return { order, r };
    };
    const a = await orderOf(7);
    const b = await orderOf(7);
    const c = await orderOf(8);
    expect(b.order).toEqual(a.order);
    expect(c.order).not.toEqual(a.order);
    expect([...c.order].sort()).toEqual([...a.order].sort());
    // Both curves are interleaved, not run one after the other.
    const firstB = a.order.findIndex((x) => x.startsWith('curve-b'));
    const lastA = a.order.findLastIndex((x) => x.startsWith('curve-a'));
    expect(firstB).toBeLessThan(lastA);
    // The sweep refined the window (recall ~ effort / 64: [0.85, 0.95] is effort ~54..61).
    const curve = a.r.systems.find((s) => s.name === 'curve-a')!;
    expect(curve.points.filter((p) => p.recall >= 0.85 && p.recall <= 0.95).length).toBeGreaterThanOrEqual(3);
    expect(curve.inWindow).toBe(curve.points.filter((p) => p.recall >= 0.85 && p.recall <= 0.95).length);
    expect(curve.summary.auc).toBeGreaterThan(0);
    // Evaluations per query ride along with every point, and at recall 0.95 in the summary.
    for (const p of curve.points) expect(p.evaluations).toBe(p.effort * 10);
    expect(curve.summary.evaluationsAt95).toBeGreaterThan(540);
    expect(curve.summary.evaluationsAt95).toBeLessThanOrEqual(640);
    expect(a.r.systems.find((s) => s.name === 'bruteforce')!.points[0].evaluations).toBeUndefined();
  });

  it('records a curve that never reaches the window, and failing systems, without stopping the others', async () => {
    registerSystem('missing-peer', { kind: 'cpu-peer', peer: true, description: 'test', create: () => importPeer('crinn-no-such-package') });
    try {
      const r = await runBench({
        dataset: ds,
        systems: [randomSystem(), failing('bad-build', 'build'), failing('bad-search', 'search'), 'missing-peer', 'bruteforce'],
        cacheDir,
        ctxProvider: () => openGpu(),
      });
      const by = Object.fromEntries(r.systems.map((s) => [s.name, s]));
      const rnd = by['random-ids'];
      expect(rnd.error).toBeUndefined();
      expect(rnd.reachedWindow).toBe(false);
      expect(rnd.summary).toEqual({ auc: 0, qpsAt90: null, qpsAt95: null, qpsAt99: null });
      expect(rnd.points.map((p) => p.effort)).toEqual([1, 2, 4, 8]);
      expect(by['bad-build'].error).toBe('build: out of memory');
      expect(by['bad-build'].points).toEqual([]);
      expect(by['bad-search'].error).toBe('effort 4: kernel crashed');
      expect(by['missing-peer'].error).toBe('build: crinn-no-such-package is not installed: npm install crinn-no-such-package');
      expect(by.bruteforce.points[0].recall).toBe(1);
      expect(benchResultSchema.safeParse(r).success).toBe(true);
    } finally {
      unregisterSystem('missing-peer');
    }
  });

  it('rejects unknown and duplicate systems before any work', async () => {
    await expect(runBench({ dataset: ds, systems: ['nope'], cacheDir })).rejects.toThrow(/unknown system 'nope'; known: .*usearch/);
    await expect(runBench({ dataset: ds, systems: ['bruteforce', 'bruteforce'], cacheDir })).rejects.toThrow(/listed twice/);
  });
});
