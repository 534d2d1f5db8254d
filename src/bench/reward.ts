/**
 * The reward: AUC of QPS over recall in a window, as DESIGN.md "The reward" fixes it. Pure, no I/O.
 *
 * The QPS curve is the Pareto frontier of the measured points, interpolated linearly in recall
 * between frontier points and held flat below the lowest one (a setting that reaches a higher
 * recall also serves a lower target). Above the highest frontier recall the curve does not exist:
 * that part of the window counts as 0 QPS and qpsAtRecall there is null.
 */
import { UserError } from '../errors.ts';

export interface CurvePoint {
  effort: number;
  recall: number;
  qps: number;
}

export interface RewardSummary {
  /** Mean QPS over the window (integral / window width). */
  auc: number;
  qpsAt90: number | null;
  qpsAt95: number | null;
  qpsAt99: number | null;
}

export const DEFAULT_WINDOW = { lo: 0.85, hi: 0.95 } as const;

/**
 * Points nobody would pick: drop every point for which another reaches at least its recall with at
 * least its QPS. Returns the rest sorted by ascending recall (QPS then strictly descending). Among
 * equal recalls only the fastest survives; non-finite or negative values are ignored.
 */
export function paretoFrontier<T extends { recall: number; qps: number }>(points: readonly T[]): T[] {
  const valid = points.filter((p) => Number.isFinite(p.recall) && Number.isFinite(p.qps) && p.qps >= 0);
  // Highest recall first, fastest first among equal recall: a point survives only if it is
  // strictly faster than everything with at least its recall.
  const sorted = [...valid].sort((a, b) => b.recall - a.recall || b.qps - a.qps);
  const kept: T[] = [];
  let best = -Infinity;
  for (const p of sorted) {
    if (p.qps > best) {
      kept.push(p);
      best = p.qps;
    }
  }
  return kept.reverse();
}

/** Frontier QPS at recall r on an already-computed frontier (ascending recall); null beyond its top. */
function frontierQps(front: readonly { recall: number; qps: number }[], r: number): number | null {
  if (front.length === 0) return null;
  const top = front[front.length - 1];
  if (r > top.recall) return null;
  if (r <= front[0].recall) return front[0].qps;
  for (let i = 1; i < front.length; i++) {
    const b = front[i];
    if (r <= b.recall) {
      const a = front[i - 1];
      const t = (r - a.recall) / (b.recall - a.recall);
      return a.qps + t * (b.qps - a.qps);
    }
  }
  return top.qps;
}

/** The frontier's interpolated QPS at recall r; null when the curve never reaches r. */
export function qpsAtRecall(points: readonly { recall: number; qps: number }[], r: number): number | null {
  return frontierQps(paretoFrontier(points), r);
}

/**
 * Mean frontier QPS over [lo, hi]: the integral of the interpolated curve divided by (hi - lo).
 * 0 when the curve never reaches lo; a curve that stops inside the window is integrated only up to
 * its highest recall.
 */
export function auc(points: readonly { recall: number; qps: number }[], lo: number = DEFAULT_WINDOW.lo, hi: number = DEFAULT_WINDOW.hi): number {
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) {
    throw new UserError(`auc: window must satisfy lo < hi, got [${lo}, ${hi}]`);
  }
  const front = paretoFrontier(points);
  if (front.length === 0) return 0;
  const top = front[front.length - 1].recall;
  if (top < lo) return 0;
  const end = Math.min(hi, top);
  // Breakpoints: the window edges plus every frontier recall strictly inside; the curve is linear
  // between consecutive breakpoints, so trapezoids are exact.
  const xs = [lo];
  for (const p of front) if (p.recall > lo && p.recall < end) xs.push(p.recall);
  xs.push(end);
  let area = 0;
  for (let i = 1; i < xs.length; i++) {
    const a = frontierQps(front, xs[i - 1]) ?? 0;
    const b = frontierQps(front, xs[i]) ?? 0;
    area += ((a + b) / 2) * (xs[i] - xs[i - 1]);
  }
  return area / (hi - lo);
}

/** AUC over the window plus QPS at recall 0.90, 0.95 and 0.99 (null where the curve stops short). */
export function summarize(points: readonly { recall: number; qps: number }[], lo: number = DEFAULT_WINDOW.lo, hi: number = DEFAULT_WINDOW.hi): RewardSummary {
  const front = paretoFrontier(points);
  return {
    auc: auc(front, lo, hi),
    qpsAt90: frontierQps(front, 0.9),
    qpsAt95: frontierQps(front, 0.95),
    qpsAt99: frontierQps(front, 0.99),
  };
}

/**
 * Distance evaluations per query at recall r: linear in recall between the cheapest point that
 * reaches r and the most expensive cheaper one below it (points without a count are skipped);
 * null when no counted point reaches r.
 */
export function evaluationsAtRecall(points: readonly { recall: number; evaluations?: number }[], r: number): number | null {
  const pts = points.filter((p) => p.evaluations !== undefined).sort((a, b) => a.evaluations! - b.evaluations!);
  const i = pts.findIndex((p) => p.recall >= r);
  if (i < 0) return null;
  const hi = pts[i];
  let lo: (typeof pts)[number] | undefined;
  for (let j = i - 1; j >= 0 && !lo; j--) if (pts[j].recall < r) lo = pts[j];
  if (!lo || !(hi.recall > lo.recall)) return hi.evaluations!;
  return lo.evaluations! + ((r - lo.recall) / (hi.recall - lo.recall)) * (hi.evaluations! - lo.evaluations!);
}

/** Points with lo <= recall <= hi: the sweep wants at least 3 (DESIGN.md "Sweep"). */
export function pointsInWindow(points: readonly { recall: number }[], lo: number = DEFAULT_WINDOW.lo, hi: number = DEFAULT_WINDOW.hi): number {
  return points.filter((p) => p.recall >= lo && p.recall <= hi).length;
}

/** Fewer points than this inside the window is flagged in every report. */
export const MIN_WINDOW_POINTS = 3;

/**
 * RL reward: AUC(variant) / AUC(baseline), both measured interleaved in the same process.
 * A baseline that scores 0 (never reaches the window) leaves the ratio undefined: that is a broken
 * setup (sweep too narrow, index too weak), so it throws instead of inventing a number.
 */
export function relativeReward(aucVariant: number, aucBaseline: number): number {
  if (!(Number.isFinite(aucBaseline) && aucBaseline > 0)) {
    throw new UserError(`relative reward: baseline AUC is ${aucBaseline}; the baseline must reach the recall window (widen its effort sweep)`);
  }
  if (!(Number.isFinite(aucVariant) && aucVariant >= 0)) {
    throw new UserError(`relative reward: variant AUC must be a finite number >= 0, got ${aucVariant}`);
  }
  return aucVariant / aucBaseline;
}
