/** Small statistics for timings: mean, median, quantiles, spread, and a median-of-reps timer (the project's one copy of each). */
import { UserError } from '../errors.ts';

function sortedCopy(xs: readonly number[]): number[] {
  if (xs.length === 0) throw new RangeError('statistics of an empty list');
  return [...xs].sort((a, b) => a - b);
}

/** Quantile q in [0, 1] with linear interpolation between order statistics (R type 7). */
function quantileSorted(s: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
  const pos = (s.length - 1) * q;
  const i = Math.floor(pos);
  const frac = pos - i;
  return i + 1 < s.length ? s[i] + frac * (s[i + 1] - s[i]) : s[i];
}

export function quantile(xs: readonly number[], q: number): number {
  return quantileSorted(sortedCopy(xs), q);
}

export function quantiles(xs: readonly number[], qs: readonly number[]): number[] {
  const s = sortedCopy(xs);
  return qs.map((q) => quantileSorted(s, q));
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('statistics of an empty list');
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Relative spread (max - min) / median: how noisy a set of repetitions was. */
export function spread(xs: readonly number[]): number {
  const s = sortedCopy(xs);
  const m = quantileSorted(s, 0.5);
  return m === 0 ? (s[s.length - 1] === s[0] ? 0 : Infinity) : (s[s.length - 1] - s[0]) / m;
}

export interface MeasureOptions {
  /** Timed repetitions; DESIGN.md requires at least 3. */
  reps?: number;
  /** Untimed warm-up calls first (pipeline compile, caches); at least 1. */
  warmup?: number;
}

export interface Timing {
  /** Wall-clock seconds of each timed repetition, in order. */
  seconds: number[];
  median: number;
}

/**
 * Time `fn` (awaited) `reps` times after `warmup` untimed calls; the harness owns the clock
 * (performance.now()), so a measured function cannot shorten its own timing.
 */
export async function measureMedian(fn: () => unknown, opts: MeasureOptions = {}): Promise<Timing> {
  const reps = opts.reps ?? 3;
  const warmup = opts.warmup ?? 1;
  if (!Number.isInteger(reps) || reps < 3) throw new UserError(`timing: reps must be an integer >= 3, got ${reps}`);
  if (!Number.isInteger(warmup) || warmup < 1) throw new UserError(`timing: warmup must be an integer >= 1, got ${warmup}`);
  for (let i = 0; i < warmup; i++) await fn();
  const seconds: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    seconds.push((performance.now() - t0) / 1000);
  }
  return { seconds, median: median(seconds) };
}
