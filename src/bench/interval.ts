/**
 * Confidence intervals for paired ratios (the evaluator's reward, docs/ARCHITECTURE.md "The reward"):
 * each round measures both systems back to back on the same queries and gives one ratio
 * AUC(variant) / AUC(baseline); the reward is their geometric mean and its interval a Student t
 * interval on the log ratios. Logs, because a ratio's noise is multiplicative (a 10% slower round
 * is 0.9 whichever side it hits) and 1/x of an interval is the interval of 1/x.
 */

export interface RatioInterval {
  /** Geometric mean of the per-round ratios. */
  estimate: number;
  lo: number;
  hi: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** Paired rounds behind it. */
  rounds: number;
  /** Half-width of the interval in log space: exp(halfWidth) - 1 is its relative precision. */
  halfWidth: number;
}

// Two-sided 95% Student t quantiles t(0.975, df) for df = 1..30; above 30 the normal's 1.96 is within 4%.
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** t(0.975, df): the multiplier of a 95% two-sided interval with df degrees of freedom. */
export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`t quantile: degrees of freedom must be a positive integer, got ${df}`);
  return df <= T975.length ? T975[df - 1] : 1.96;
}

/**
 * The 95% interval of the ratio from paired per-round ratios (each > 0, finite). With one round the
 * interval is unbounded ([0, Infinity]): a single pair says nothing about its own noise.
 */
export function pairedRatioInterval(ratios: readonly number[]): RatioInterval {
  if (ratios.length === 0) throw new RangeError('paired interval: no rounds');
  for (const r of ratios) if (!(Number.isFinite(r) && r > 0)) throw new RangeError(`paired interval: every ratio must be finite and > 0, got ${r}`);
  const logs = ratios.map(Math.log);
  const n = logs.length;
  const mean = logs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { estimate: Math.exp(mean), lo: 0, hi: Infinity, level: 0.95, rounds: 1, halfWidth: Infinity };
  const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const halfWidth = (tQuantile975(n - 1) * sd) / Math.sqrt(n);
  return { estimate: Math.exp(mean), lo: Math.exp(mean - halfWidth), hi: Math.exp(mean + halfWidth), level: 0.95, rounds: n, halfWidth };
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
