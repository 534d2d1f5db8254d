/**
 * The bench driver's QPS accounting, the same for every kind of system: each point's QPS is the
 * query count over the median of that point's own timed repetitions (the `seconds` it records),
 * its summary is the summary of those points, and a fake system that takes a known time per call
 * is reported at that rate within a stated tolerance whether it says it is a GPU system, a CPU
 * peer or an oracle. (A driver that scaled one kind's QPS, e.g. halved every CPU peer's, fails here.)
 * The real CPU peers get the identity check too where installed; a missing one is a visible skip.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runBench } from '../../src/bench/run.ts';
import { summarize } from '../../src/bench/reward.ts';
import { median } from '../../src/bench/stats.ts';
import { packageVersion, type BenchSystem, type SystemKind } from '../../src/bench/bench-system.ts';
import type { BenchResult } from '../../src/bench/schema.ts';
import { bruteForceKnn } from '../../src/data/metric.ts';
import { loadDataset } from '../../src/data/resolve.ts';
import type { Dataset, VectorSet } from '../../src/data/types.ts';

const K = 10;
let ds: Dataset;
beforeAll(async () => {
  const d = await loadDataset('synthetic-2000-d16', { queries: 20 });
  // Ground truth given, so the driver needs no GPU for it.
  ds = { ...d, groundTruth: bruteForceKnn(d.base, d.queries, K, d.metric) };
});

/** Waits at least `ms` (a timer, then a short spin for the rest: timers may fire a little early). */
async function hold(ms: number): Promise<void> {
  const end = performance.now() + ms;
  await new Promise((r) => setTimeout(r, ms));
  while (performance.now() < end);
}

/**
 * A fake system of the given kind whose search takes at least `msPerUnit * max(1, effort)` ms and
 * returns the exact ids. `efforts` empty: one fixed point.
 */
function sleeper(name: string, kind: SystemKind, msPerUnit: number, efforts: number[] = []): BenchSystem {
  return {
    name,
    kind,
    params: { fake: true },
    efforts,
    minEffort: 1,
    maxEffort: efforts.length ? Math.max(...efforts) : 1,
    async build() {
      return { seconds: 0, params: {} };
    },
    async search(queries: VectorSet, k: number, effort: number) {
      await hold(msPerUnit * Math.max(1, efforts.length ? effort : 1));
      return ds.groundTruth!.ids.slice(0, queries.n * k);
    },
    async close() {},
  };
}

/** Every point of every system: QPS = queries / median(its own timed seconds); the summary is that of the points. */
function expectQpsFromOwnTimings(r: BenchResult): void {
  const nq = ds.queries.n;
  for (const s of r.systems) {
    expect(s.error, s.name).toBeUndefined();
    expect(s.points.length, s.name).toBeGreaterThan(0);
    for (const p of s.points) {
      expect(p.seconds.length, `${s.name} effort ${p.effort}: timed reps`).toBe(3);
      const want = nq / median(p.seconds);
      expect(Math.abs(p.qps / want - 1), `${s.name} (${s.kind}) effort ${p.effort}: qps ${p.qps} vs ${nq} / median(${p.seconds.join(', ')}) = ${want}`).toBeLessThan(1e-9);
    }
    const sum = summarize(s.points, r.window.lo, r.window.hi);
    expect(s.summary.auc, `${s.name}: summary AUC`).toBeCloseTo(sum.auc, 6);
  }
}

describe('bench QPS accounting', () => {
  it('each point\'s QPS is queries / median of its own timings, for gpu, cpu-peer and oracle systems alike', async () => {
    const r = await runBench({
      dataset: ds, k: K, seed: 3, maxPoints: 3,
      systems: [sleeper('fake-gpu', 'gpu', 5, [1, 2, 3]), sleeper('fake-cpu', 'cpu-peer', 5, [1, 2, 3]), sleeper('fake-oracle', 'oracle', 5), 'bruteforce'],
    });
    expect(r.systems.map((s) => s.kind)).toEqual(['gpu', 'cpu-peer', 'oracle', 'oracle']);
    expectQpsFromOwnTimings(r);
  });

  it('a fake system taking 100 ms per call is reported at queries / 0.1 s (within -40% / +0%), whatever its kind', async () => {
    const MS = 100;
    const r = await runBench({
      dataset: ds, k: K, seed: 4,
      systems: [sleeper('slow-gpu', 'gpu', MS), sleeper('slow-cpu', 'cpu-peer', MS), sleeper('slow-oracle', 'oracle', MS)],
    });
    expectQpsFromOwnTimings(r);
    const expected = ds.queries.n / (MS / 1000);
    const qps: Record<string, number> = {};
    for (const s of r.systems) {
      expect(s.points, s.name).toHaveLength(1);
      qps[s.kind] = s.points[0].qps;
      // Never faster than the held time; slower only by timer lateness and the driver's own work.
      expect(s.points[0].qps, `${s.name} (${s.kind})`).toBeLessThanOrEqual(expected * (1 + 1e-6));
      expect(s.points[0].qps, `${s.name} (${s.kind})`).toBeGreaterThan(expected * 0.6);
    }
    // Identical work, so the kinds agree (a scaled kind would be off by its factor).
    expect(qps['cpu-peer'] / qps.gpu).toBeGreaterThan(0.6);
    expect(qps['cpu-peer'] / qps.gpu).toBeLessThan(1 / 0.6);
  });

  const peers = [
    { name: 'hnswlib', pkg: 'hnswlib-node' },
    { name: 'usearch', pkg: 'usearch' },
  ];
  for (const { name, pkg } of peers) {
    const installed = packageVersion(pkg) !== undefined;
    it.skipIf(!installed)(`${name}: each point's QPS is queries / median of its own timings${installed ? '' : ` (SKIPPED: ${pkg} not installed: npm install ${pkg})`}`, async () => {
      const r = await runBench({ dataset: ds, k: K, seed: 5, maxPoints: 4, systems: [name], systemOptions: { [name]: { threads: 1 } } });
      expect(r.systems[0].kind).toBe('cpu-peer');
      expectQpsFromOwnTimings(r);
    });
  }
});
