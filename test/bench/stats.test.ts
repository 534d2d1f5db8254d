import { describe, expect, it } from 'vitest';
import { measureMedian, median, quantile, quantiles, spread } from '../../src/bench/stats.ts';
import { UserError } from '../../src/errors.ts';

describe('stats', () => {
  it('median of odd and even lists, unsorted input untouched', () => {
    const xs = [5, 1, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('quantiles interpolate linearly between order statistics', () => {
    const xs = [10, 20, 30, 40, 50];
    expect(quantiles(xs, [0, 0.25, 0.5, 1])).toEqual([10, 20, 30, 50]);
    // Position (5-1) * 0.1 = 0.4 -> 10 + 0.4 * 10 = 14.
    expect(quantile(xs, 0.1)).toBeCloseTo(14, 12);
    expect(() => quantile(xs, 1.5)).toThrow(RangeError);
    expect(() => median([])).toThrow(RangeError);
  });

  it('spread is (max - min) / median', () => {
    expect(spread([9, 10, 12])).toBeCloseTo(0.3, 12);
    expect(spread([0, 0, 0])).toBe(0);
  });

  it('measureMedian runs warm-ups untimed, then times each rep', async () => {
    let calls = 0;
    const durations = [0, 0, 30, 10, 20]; // two warm-ups, then 3 reps (ms)
    const t = await measureMedian(
      async () => {
        const ms = durations[calls++];
        await new Promise((r) => setTimeout(r, ms));
      },
      { reps: 3, warmup: 2 },
    );
    expect(calls).toBe(5);
    expect(t.seconds).toHaveLength(3);
    expect(t.seconds[0]).toBeGreaterThan(t.seconds[1]);
    expect(t.median).toBe(median(t.seconds));
    expect(t.median).toBeGreaterThanOrEqual(0.015);
  });

  it('measureMedian refuses fewer than 3 reps or no warm-up', async () => {
    await expect(measureMedian(() => 0, { reps: 2 })).rejects.toThrow(UserError);
    await expect(measureMedian(() => 0, { warmup: 0 })).rejects.toThrow(UserError);
  });
});
