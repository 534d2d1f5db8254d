/**
 * Confidence intervals for paired ratios (the evaluator's reward, docs/ARCHITECTURE.md "The reward"):
 * each round measures both systems back to back on the same queries and gives one ratio
 * AUC(variant) / AUC(baseline); the reward is their median and its interval the distribution-free
 * (sign test) interval of that median: the order statistics x(j) and x(n+1-j) with j the largest
 * index whose binomial tail P(Bin(n, 1/2) < j) is at most 2.5%. No normality is assumed: on a shared
 * machine a stalled call makes a round's ratio 3x off, which a mean and a t interval would follow
 * and a median does not. Coverage is at least 95% for any continuous distribution of independent rounds.
 */

export interface RatioInterval {
  /** Median of the per-round ratios. */
  estimate: number;
  lo: number;
  hi: number;
  /** Confidence level actually reached (>= 0.95 once there are 6 rounds; 0 before). */
  level: number;
  /** Paired rounds behind it. */
  rounds: number;
  /** Half-width of the interval in log space, max(log(est/lo), log(hi/est)): exp(halfWidth) - 1 is its relative precision. */
  halfWidth: number;
}

/** Rounds before a 95% sign-test interval exists: 2 * 0.5^6 = 0.031 is the first two-sided tail below 0.05. */
export const MIN_INTERVAL_ROUNDS = 6;

/** P(Bin(n, 1/2) <= x), exactly, for the small n of an evaluation. */
function binomialCdfHalf(n: number, x: number): number {
  let term = Math.pow(0.5, n); // C(n, 0) / 2^n
  let sum = 0;
  for (let i = 0; i <= x; i++) {
    sum += term;
    term = (term * (n - i)) / (i + 1);
  }
  return sum;
}

/** The largest j (1-based) with P(Bin(n, 1/2) <= j - 1) <= 0.025, or 0 when none (n < 6). */
export function signTestRank(n: number): number {
  let j = 0;
  while (j + 1 <= n && binomialCdfHalf(n, j) <= 0.025) j++;
  return j;
}

/** The median on the log scale (ratios): an even count takes the geometric mean of the middle two, unlike stats.ts median. */
function logMedianSorted(sorted: readonly number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : Math.sqrt(sorted[m - 1] * sorted[m]);
}

/**
 * The 95% interval of the median ratio from paired per-round ratios (each > 0, finite). With
 * fewer than MIN_INTERVAL_ROUNDS rounds it is unbounded ([0, Infinity], level 0).
 */
export function pairedRatioInterval(ratios: readonly number[]): RatioInterval {
  if (ratios.length === 0) throw new RangeError('paired interval: no rounds');
  for (const r of ratios) if (!(Number.isFinite(r) && r > 0)) throw new RangeError(`paired interval: every ratio must be finite and > 0, got ${r}`);
  const s = [...ratios].sort((a, b) => a - b);
  const n = s.length;
  const estimate = logMedianSorted(s);
  const j = signTestRank(n);
  if (j === 0) return { estimate, lo: 0, hi: Infinity, level: 0, rounds: n, halfWidth: Infinity };
  const lo = s[j - 1];
  const hi = s[n - j];
  const level = 1 - 2 * binomialCdfHalf(n, j - 1);
  return { estimate, lo, hi, level, rounds: n, halfWidth: Math.max(Math.log(estimate / lo), Math.log(hi / estimate)) };
}

/** Relative precision of an interval: its half-width as a fraction (0.05 = +-5%). */
export function relativePrecision(iv: Pick<RatioInterval, 'halfWidth'>): number {
  return Math.expm1(iv.halfWidth);
}

/** "1.04 [0.98, 1.10]" for logs and reports. */
export function formatInterval(iv: { estimate: number; lo: number; hi: number }, digits = 3): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
  return `${f(iv.estimate)} [${f(iv.lo)}, ${f(iv.hi)}]`;
}
