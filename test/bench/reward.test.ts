import { describe, expect, it } from 'vitest';
import { auc, paretoFrontier, qpsAtRecall, relativeReward, summarize } from '../../src/bench/reward.ts';
import { UserError } from '../../src/errors.ts';

// Window [0.85, 0.95] (width 0.1) throughout; every expected value is computed by hand below.
const P = (recall: number, qps: number, effort = 0) => ({ effort, recall, qps });

describe('paretoFrontier', () => {
  it('drops dominated points and sorts by recall', () => {
    const pts = [P(0.9, 800, 30), P(0.8, 3000, 10), P(0.92, 1000, 20), P(0.97, 500, 40)];
    // (0.90, 800) is dominated by (0.92, 1000).
    expect(paretoFrontier(pts).map((p) => [p.recall, p.qps])).toEqual([[0.8, 3000], [0.92, 1000], [0.97, 500]]);
  });

  it('keeps only the fastest of equal recalls, drops equal-QPS lower recall and invalid values', () => {
    const pts = [P(0.9, 1000), P(0.9, 1500), P(0.8, 1500), P(0.95, NaN), P(NaN, 5), P(0.99, -1)];
    expect(paretoFrontier(pts).map((p) => [p.recall, p.qps])).toEqual([[0.9, 1500]]);
  });

  it('is empty for no points', () => {
    expect(paretoFrontier([])).toEqual([]);
  });
});

describe('auc', () => {
  it('is 0 for no points', () => {
    expect(auc([])).toBe(0);
    expect(summarize([])).toEqual({ auc: 0, qpsAt90: null, qpsAt95: null, qpsAt99: null });
  });

  it('is 0 when the curve never reaches the window', () => {
    expect(auc([P(0.5, 1000), P(0.8, 500), P(0.849, 400)])).toBe(0);
  });

  it('interpolates across a window with no point inside', () => {
    // Line from (0.80, 1000) to (0.99, 100): f(r) = 1000 - 900 (r - 0.8) / 0.19.
    // Linear, so the mean over the window is f(0.90) = 1000 - 900 * 0.1 / 0.19 = 10000/19.
    const pts = [P(0.8, 1000), P(0.99, 100)];
    expect(auc(pts)).toBeCloseTo(10000 / 19, 9);
    expect(qpsAtRecall(pts, 0.9)).toBeCloseTo(10000 / 19, 9);
    // f(0.95) = 1000 - 900 * 0.15 / 0.19 = 5500/19.
    expect(qpsAtRecall(pts, 0.95)).toBeCloseTo(5500 / 19, 9);
    expect(qpsAtRecall(pts, 0.99)).toBe(100);
  });

  it('integrates a curve that stops inside the window only up to its top', () => {
    // Frontier (0.80, 2000) - (0.90, 1000): f(0.85) = 1500, f(0.90) = 1000.
    // Area over [0.85, 0.90] = 0.05 * 1250 = 62.5; the rest counts 0; / 0.1 = 625.
    const pts = [P(0.8, 2000), P(0.9, 1000)];
    expect(auc(pts)).toBeCloseTo(625, 9);
    const s = summarize(pts);
    expect(s.qpsAt90).toBeCloseTo(1000, 9);
    expect(s.qpsAt95).toBeNull();
    expect(s.qpsAt99).toBeNull();
  });

  it('handles non-monotone (noisy, unsorted) points through the frontier', () => {
    // Frontier: (0.80, 3000), (0.92, 1000), (0.97, 500); (0.90, 800) and (0.86, 900) are dominated.
    // f(0.85) = 3000 - 2000 * 0.05/0.12 = 6500/3; f(0.92) = 1000; f(0.95) = 1000 - 500 * 0.03/0.05 = 700.
    // Area = 0.07 * (6500/3 + 1000)/2 + 0.03 * (1000 + 700)/2 = 332.5/3 + 25.5 = 409/3; / 0.1 = 4090/3.
    const pts = [P(0.8, 3000, 10), P(0.92, 1000, 20), P(0.9, 800, 30), P(0.97, 500, 40), P(0.86, 900, 15)];
    expect(auc(pts)).toBeCloseTo(4090 / 3, 9);
    expect(qpsAtRecall(pts, 0.9)).toBeCloseTo(3000 - (2000 * 0.1) / 0.12, 9);
  });

  it('keeps the fastest of duplicate recalls', () => {
    // Frontier (0.90, 1500), (0.96, 400). Flat 1500 on [0.85, 0.90]: 0.05 * 1500 = 75.
    // f(0.95) = 1500 - 1100 * 0.05/0.06 = 1750/3; area [0.90, 0.95] = 0.05 * (1500 + 1750/3)/2 = 625/12.
    // Total = 75 + 625/12 = 1525/12; / 0.1 = 15250/12 = 1270.8333...
    const pts = [P(0.9, 1000), P(0.9, 1500), P(0.96, 400), P(0.96, 300)];
    expect(auc(pts)).toBeCloseTo(15250 / 12, 9);
    const s = summarize(pts);
    expect(s.qpsAt90).toBe(1500);
    expect(s.qpsAt95).toBeCloseTo(1750 / 3, 9);
    expect(s.qpsAt99).toBeNull();
  });

  it('single point above the window: flat hold over the whole window', () => {
    // A setting reaching 0.97 serves every target below it at 800 QPS.
    expect(auc([P(0.97, 800)])).toBeCloseTo(800, 9);
    expect(summarize([P(0.97, 800)])).toEqual({ auc: expect.closeTo(800, 9), qpsAt90: 800, qpsAt95: 800, qpsAt99: null });
  });

  it('single point inside the window: flat up to it, 0 after', () => {
    // 800 over [0.85, 0.90] = 40; / 0.1 = 400.
    expect(auc([P(0.9, 800)])).toBeCloseTo(400, 9);
    expect(qpsAtRecall([P(0.9, 800)], 0.95)).toBeNull();
  });

  it('single point below the window scores 0', () => {
    expect(auc([P(0.8, 800)])).toBe(0);
    expect(qpsAtRecall([P(0.8, 800)], 0.9)).toBeNull();
    expect(qpsAtRecall([P(0.8, 800)], 0.5)).toBe(800);
  });

  it('points exactly at the boundaries', () => {
    // Reaching exactly lo covers a zero-width part of the window.
    expect(auc([P(0.85, 1000)])).toBe(0);
    expect(qpsAtRecall([P(0.85, 1000)], 0.85)).toBe(1000);
    // Exactly hi: flat over the whole window.
    expect(auc([P(0.95, 1000)])).toBeCloseTo(1000, 9);
    // Both edges: the mean of a line is its midpoint, (2000 + 1000)/2 = 1500; outside points don't matter.
    expect(auc([P(0.85, 2000), P(0.95, 1000)])).toBeCloseTo(1500, 9);
    expect(auc([P(0.8, 3000), P(0.85, 2000), P(0.95, 1000), P(0.99, 500)])).toBeCloseTo(1500, 9);
  });

  it('accepts a custom window and rejects an empty one', () => {
    // Window [0.9, 1.0] on line (0.9, 1000)-(1.0, 0): mean 500.
    expect(auc([P(0.9, 1000), P(1, 0)], 0.9, 1.0)).toBeCloseTo(500, 9);
    expect(() => auc([P(0.9, 1)], 0.95, 0.85)).toThrow(UserError);
  });
});

describe('relativeReward', () => {
  it('is the AUC ratio', () => {
    expect(relativeReward(3000, 2000)).toBe(1.5);
    expect(relativeReward(0, 2000)).toBe(0);
  });

  it('refuses a baseline that never reached the window', () => {
    expect(() => relativeReward(100, 0)).toThrow(/baseline AUC is 0/);
    expect(() => relativeReward(NaN, 10)).toThrow(UserError);
  });
});
