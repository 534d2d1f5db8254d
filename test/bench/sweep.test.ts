import { describe, expect, it } from 'vitest';
import { runSweep, seededRng, shuffle, sweepInterleaved, SweepPlanner } from '../../src/bench/sweep.ts';
import { auc } from '../../src/bench/reward.ts';
import { UserError } from '../../src/errors.ts';

// recall = 1 - exp(-e/20): the window [0.85, 0.95] is effort ~37.9 .. ~59.9.
const saturating = (scale = 1, tau = 20) => async (e: number) => ({ recall: scale * (1 - Math.exp(-e / tau)), qps: 1e5 / e, seconds: [e / 1e5] });
const INITIAL = [1, 2, 4, 8, 16, 32, 64];

describe('runSweep', () => {
  it('bisects until three points fall inside the window', async () => {
    const seen: number[] = [];
    const r = await runSweep({ efforts: INITIAL, measure: saturating(), onPoint: (p) => seen.push(p.effort) });
    expect(r.reachedWindow).toBe(true);
    expect(r.inWindow).toBeGreaterThanOrEqual(3);
    // Initial list first (ascending), then geometric bisections 45, 54, 38 (see SweepPlanner.between).
    expect(seen).toEqual([...INITIAL, 45, 54, 38]);
    expect(r.points.map((p) => p.effort)).toEqual([1, 2, 4, 8, 16, 32, 38, 45, 54, 64]);
    expect(r.points.every((p) => Number.isInteger(p.effort))).toBe(true);
    expect(r.points[0].seconds).toEqual([1e-5]);
    expect(auc(r.points)).toBeGreaterThan(0);
  });

  it('raises effort geometrically when the curve never reaches the window, then gives up quietly', async () => {
    const measured: number[] = [];
    const measure = async (e: number) => {
      measured.push(e);
      return { recall: 0.8 * (1 - Math.exp(-e / 20)), qps: 1e5 / e };
    };
    const r = await runSweep({ efforts: [8, 16, 32], measure, maxEffort: 1000 });
    expect(r.reachedWindow).toBe(false);
    expect(r.inWindow).toBe(0);
    expect(measured).toEqual([8, 16, 32, 64, 128, 256, 512, 1000]);
  });

  it('extends upward when the curve stops inside the window', async () => {
    const r = await runSweep({ efforts: [16, 32, 40], measure: saturating() });
    expect(Math.max(...r.points.map((p) => p.recall))).toBeGreaterThanOrEqual(0.95);
    expect(r.inWindow).toBeGreaterThanOrEqual(3);
  });

  it('extends downward when every initial point is above the window', async () => {
    const r = await runSweep({ efforts: [100, 200], measure: saturating() });
    expect(Math.min(...r.points.map((p) => p.recall))).toBeLessThanOrEqual(0.85);
    expect(r.inWindow).toBeGreaterThanOrEqual(3);
  });

  it('stops when no new integer effort fits (a step curve)', async () => {
    const r = await runSweep({ efforts: [1, 100], measure: async (e) => ({ recall: e >= 10 ? 0.99 : 0.5, qps: 1000 / e }) });
    expect(r.inWindow).toBe(0);
    expect(r.reachedWindow).toBe(true);
    const efforts = r.points.map((p) => p.effort);
    expect(efforts).toContain(9);
    expect(efforts).toContain(10);
    expect(new Set(efforts).size).toBe(efforts.length);
    expect(efforts.length).toBeLessThan(15);
  });

  it('respects maxPoints, clamps and dedupes efforts', async () => {
    const r = await runSweep({ efforts: [0, 0.4, 1, 1.2, 5000], measure: saturating(1, 200), maxPoints: 5, maxEffort: 2048 });
    const efforts = r.points.map((p) => p.effort);
    expect(efforts[0]).toBe(1);
    expect(efforts[efforts.length - 1]).toBe(2048);
    expect(r.points.length).toBe(5);
  });

  it('works with real-valued efforts', async () => {
    const r = await runSweep({ efforts: [10, 100], measure: saturating(), integer: false, maxPoints: 30 });
    expect(r.inWindow).toBeGreaterThanOrEqual(3);
    expect(r.points.some((p) => !Number.isInteger(p.effort))).toBe(true);
  });

  it('rejects bad options and bad measurements', async () => {
    expect(() => new SweepPlanner([1], { lo: 0.95, hi: 0.85 })).toThrow(UserError);
    expect(() => new SweepPlanner([NaN])).toThrow(UserError);
    await expect(runSweep({ efforts: [1], measure: async () => ({ recall: 1.5, qps: 1 }) })).rejects.toThrow(/recall 1.5/);
    await expect(runSweep({ efforts: [1], measure: async () => { throw new Error('boom'); } })).rejects.toThrow('boom');
  });
});

describe('sweepInterleaved', () => {
  function lanes(log: string[]) {
    const mk = (name: string, tau: number) => ({
      name,
      planner: new SweepPlanner([8, 16, 32, 64]),
      error: undefined as string | undefined,
      measure: async (e: number) => {
        log.push(name);
        return saturating(1, tau)(e);
      },
    });
    return [mk('a', 20), mk('b', 25), mk('c', 15)];
  }
  type Lane = ReturnType<typeof lanes>[number];
  const measure = ({ lane, effort }: { lane: Lane; effort: number }) => lane.measure(effort);

  it('measures one point per lane per step in a seeded, shuffled order', async () => {
    const log: string[] = [];
    const ls = lanes(log);
    await sweepInterleaved(ls, { rng: seededRng(7), measure });
    for (const l of ls) {
      expect(l.error).toBeUndefined();
      expect(l.planner.result().inWindow).toBeGreaterThanOrEqual(3);
    }
    // The first 4 steps (the initial lists) hold each lane exactly once.
    for (let step = 0; step < 4; step++) expect([...log.slice(step * 3, step * 3 + 3)].sort()).toEqual(['a', 'b', 'c']);
    // The order is not the same every step, and the same seed gives the same order.
    const steps = Array.from({ length: 4 }, (_, i) => log.slice(i * 3, i * 3 + 3).join(''));
    expect(new Set(steps).size).toBeGreaterThan(1);
    const log2: string[] = [];
    await sweepInterleaved(lanes(log2), { rng: seededRng(7), measure });
    expect(log2).toEqual(log);
  });

  it('prepares each step once, before its measurements, with every lane that measures in it', async () => {
    const log: string[] = [];
    const ls = lanes(log);
    const prepared: string[][] = [];
    await sweepInterleaved(ls, {
      rng: seededRng(3),
      prepare: async (step) => {
        prepared.push(step.map((x) => `${x.lane.name}:${x.effort}`));
        return log.length;
      },
      measure: async (x, before) => {
        // Every measurement of a step sees the value its prepare returned, taken before any of them ran.
        expect(log.length - before).toBeLessThan(3);
        return x.lane.measure(x.effort);
      },
    });
    expect(prepared.slice(0, 4).map((s) => s.map((x) => x.split(':')[0]))).toEqual([['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'b', 'c']]);
    expect(prepared.flat().length).toBe(log.length);
  });

  it('with onError, stops only the lane that failed; without it, the run rejects', async () => {
    const log: string[] = [];
    const ls = lanes(log);
    ls[1].measure = async (e: number) => {
      if (e === 16) throw new Error('device lost');
      return saturating()(e);
    };
    const points: string[] = [];
    const errors: string[] = [];
    await sweepInterleaved(ls, { rng: seededRng(1), measure, onPoint: (p, x) => points.push(`${x.lane.name}:${p.effort}`), onError: (_, x) => errors.push(x.lane.name) });
    expect(ls[1].error).toBe('effort 16: device lost');
    expect(errors).toEqual(['b']);
    expect(ls[1].planner.points().map((p) => p.effort)).toEqual([8]);
    expect(ls[0].planner.result().inWindow).toBeGreaterThanOrEqual(3);
    expect(ls[2].planner.result().inWindow).toBeGreaterThanOrEqual(3);
    expect(points).toContain('b:8');
    expect(points).not.toContain('b:16');
    const again = lanes([]);
    again[2].measure = async () => {
      throw new Error('boom');
    };
    await expect(sweepInterleaved(again, { rng: seededRng(1), measure })).rejects.toThrow('boom');
  });
});

describe('rng helpers', () => {
  it('seededRng is deterministic and in [0, 1); shuffle is a permutation', () => {
    const a = seededRng(42);
    const b = seededRng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(shuffle([1, 2, 3, 4, 5], seededRng(3)).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
