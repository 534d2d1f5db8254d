/**
 * A side's measured points and the curves the evaluator makes of them: noisy points rejected,
 * identical configurations merged, the efforts that shape an AUC chosen by recall alone
 * (docs/ARCHITECTURE.md "The reward", "Scoring").
 */
import { DEFAULT_WINDOW } from '../bench/reward.ts';
import { mean, median } from '../bench/stats.ts';
import type { CurvePoint } from '../bundle/module-manifest.ts';

/** One effort of one system: the recall of every batch it answered, the plan's QPS and each round's. */
export interface PointData {
  effort: number;
  recalls: number[];
  perQuery: number[];
  planQps: number;
  roundQps: Map<number, number>;
}

/** What a side has measured (EvalSide holds it). */
export interface SidePoints {
  /** Probe answer hash per effort: identical configurations are merged. */
  readonly signature: Map<number, string>;
  /** Mean distance evaluations per probe query, per effort: reported by the child, informational only. */
  readonly evaluations: Map<number, number>;
  readonly points: Map<number, PointData>;
  readonly rejected: Set<number>;
}

export const planQps = (p: PointData): number => p.planQps;
/** What a verdict reports: the median over the paired rounds where a point was in them, else its plan measurement. */
export const reportedQps = (p: PointData): number => (p.roundQps.size ? median([...p.roundQps.values()]) : p.planQps);

/**
 * A side's curve: rejected points dropped; points with identical probe answers merged into one
 * (lowest effort, mean recall and median QPS over their members), so duplicate configurations
 * cannot offer the frontier the best of several noisy draws. `qpsOf` picks the QPS of a point
 * (undefined: the point is left out). `evaluations`: the probe's work per query (mean over merged efforts).
 */
export function sideCurve(side: SidePoints, qpsOf: (p: PointData) => number | undefined): CurvePoint[] {
  const groups = new Map<string, { effort: number; recall: number[]; qps: number[]; evaluations: number[] }>();
  for (const p of [...side.points.values()].sort((a, b) => a.effort - b.effort)) {
    if (side.rejected.has(p.effort)) continue;
    const sig = side.signature.get(p.effort) ?? String(p.effort);
    const g = groups.get(sig) ?? { effort: p.effort, recall: [], qps: [], evaluations: [] };
    g.recall.push(...p.recalls);
    const q = qpsOf(p);
    if (q !== undefined) g.qps.push(q);
    const e = side.evaluations.get(p.effort);
    if (e !== undefined) g.evaluations.push(e);
    groups.set(sig, g);
  }
  return [...groups.values()].filter((g) => g.qps.length > 0).map((g) => ({ effort: g.effort, recall: mean(g.recall), qps: median(g.qps), ...(g.evaluations.length ? { evaluations: mean(g.evaluations) } : {}) }));
}

/** Sampling noise of a batch's mean recall; a batch further than 4 sigma (+0.02) from the point's mean rejects the point. */
export function rejectNoisy(side: SidePoints, queriesPerCall: number): void {
  for (const p of side.points.values()) {
    const m = mean(p.recalls);
    const pm = mean(p.perQuery);
    const sd = Math.sqrt(p.perQuery.reduce((x, y) => x + (y - pm) ** 2, 0) / Math.max(1, p.perQuery.length - 1));
    const tol = 0.02 + (4 * sd) / Math.sqrt(queriesPerCall);
    if (p.recalls.some((x) => Math.abs(x - m) > tol)) side.rejected.add(p.effort);
  }
}

/**
 * The efforts that shape an AUC over the window, chosen by recall alone (never by a noisy QPS, or
 * two identical systems could time different points): those inside the window, the highest one
 * below it (interpolation reaches into the window from there) and the lowest one above it. Empty
 * when the curve never reaches the window's low end (its AUC is 0 whatever its speed).
 */
export function relevantEfforts(curve: readonly CurvePoint[]): number[] {
  const { lo, hi } = DEFAULT_WINDOW;
  const byRecall = [...curve].sort((a, b) => a.recall - b.recall || a.effort - b.effort);
  if (!byRecall.some((p) => p.recall >= lo)) return [];
  const below = byRecall.filter((p) => p.recall < lo).at(-1);
  const inside = byRecall.filter((p) => p.recall >= lo && p.recall <= hi);
  const above = byRecall.find((p) => p.recall > hi);
  return [below, ...inside, above].filter((p): p is CurvePoint => p !== undefined).map((p) => p.effort).sort((a, b) => a - b);
}
