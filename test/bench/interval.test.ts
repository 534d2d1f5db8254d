/**
 * The reward's interval (src/bench/interval.ts): the sign-test ranks against the binomial tables,
 * and its coverage on simulated rounds, including heavy-tailed ones (stalls on a shared machine).
 */
import { describe, expect, it } from 'vitest';
import { MIN_INTERVAL_ROUNDS, pairedRatioInterval, relativePrecision, signTestRank } from '../../src/bench/interval.ts';
import { seededRng } from '../../src/bench/sweep.ts';

describe('paired ratio interval', () => {
  it('uses the sign-test order statistics of the binomial tables', () => {
    // n: rank j of the lower bound (1-based), from tables of the sign-test interval of a median.
    expect([5, 6, 8, 10, 12, 20, 30].map(signTestRank)).toEqual([0, 1, 1, 2, 3, 6, 10]);
    expect(MIN_INTERVAL_ROUNDS).toBe(6);
  });

  it('is unbounded below six rounds, and brackets the median after', () => {
    expect(pairedRatioInterval([1, 1.1, 0.9]).hi).toBe(Infinity);
    const iv = pairedRatioInterval([0.9, 1.0, 1.1, 1.2, 0.95, 1.05, 3.0, 1.02]);
    expect(iv.lo).toBe(0.9);
    expect(iv.hi).toBe(3.0);
    expect(iv.estimate).toBeCloseTo(Math.sqrt(1.02 * 1.05), 12);
    expect(iv.level).toBeGreaterThanOrEqual(0.95);
    expect(relativePrecision(iv)).toBeGreaterThan(1);
    expect(() => pairedRatioInterval([1, 0])).toThrow(/finite and > 0/);
  });

  it('holds the true ratio in at least 95% of simulated evaluations, heavy tails included', () => {
    const rng = seededRng(5);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    for (const tail of [0, 0.1]) {
      let held = 0;
      const trials = 2000;
      for (let t = 0; t < trials; t++) {
        // 20 rounds of a true ratio 1.2 with 15% log noise; with `tail`, a round is a 3x stall on either side.
        const ratios = Array.from({ length: 20 }, () => 1.2 * Math.exp(0.15 * gauss()) * (rng() < tail ? (rng() < 0.5 ? 3 : 1 / 3) : 1));
        const iv = pairedRatioInterval(ratios);
        if (iv.lo <= 1.2 && 1.2 <= iv.hi) held++;
      }
      expect(held / trials, `tail ${tail}`).toBeGreaterThan(0.94);
    }
  });
});
