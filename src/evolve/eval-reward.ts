/**
 * Stage reward: the verdict's figures from the two sides' curves and the paired rounds' interval
 * (docs/ARCHITECTURE.md "The reward"), with notes on what was rejected, merged or thin.
 */
import { evaluationsAtRecall, summarize, pointsInWindow, MIN_WINDOW_POINTS, DEFAULT_WINDOW } from '../bench/reward.ts';
import { MIN_INTERVAL_ROUNDS, formatInterval, relativePrecision } from '../bench/interval.ts';
import type { Verdict } from './contract.ts';
import { BaselineFault } from './eval-system.ts';
import { reportedQps, sideCurve } from './eval-curves.ts';
import type { EvalSide } from './eval-side.ts';
import type { TimingResult } from './eval-timing.ts';

export type RewardFields = Pick<Verdict, 'variantAuc' | 'baselineAuc' | 'qpsAt90' | 'qpsAt95' | 'qpsAt99' | 'evaluationsAt95' | 'variantCurve' | 'baselineCurve' | 'reward' | 'interval' | 'conclusive'>;

/** The reward, its interval and curves; `reason` holds the notes. */
export function rewardOf(sides: readonly [baseline: EvalSide, variant: EvalSide], timing: TimingResult, precision: number, poolSize: number): { fields: RewardFields; reason: string } {
  const { iv, exhausted, variantReachesWindow } = timing;
  const [baseline, variant] = sides;
  const curves = sides.map((s) => sideCurve(s, reportedQps));
  const [bs, vs] = curves.map((c) => summarize(c));
  const notes: string[] = [];
  let reward: number;
  let interval: Verdict['interval'];
  let conclusive: boolean;
  if (!iv) {
    if (variantReachesWindow) throw new BaselineFault(`the query pool (${poolSize}) holds too few queries for one paired round; lower queriesPerCall`);
    // The variant never reaches the window: AUC 0 by definition, whatever its speed.
    reward = 0;
    interval = { lo: 0, hi: 0, level: 0.95, rounds: 0 };
    conclusive = true;
    notes.push(`reward 0: the variant's curve never reaches recall ${DEFAULT_WINDOW.lo}`);
  } else {
    reward = iv.estimate;
    // Fewer rounds than an interval needs (a small query pool): no interval, and never a gain.
    interval = iv.level > 0 ? { lo: iv.lo, hi: iv.hi, level: iv.level, rounds: iv.rounds } : null;
    conclusive = iv.level > 0 && relativePrecision(iv) <= precision;
    notes.push(iv.level > 0
      ? `reward ${formatInterval(iv)} (median of ${iv.rounds} paired rounds, ${(100 * iv.level).toFixed(1)}% interval; AUC ${vs.auc.toFixed(1)} / ${bs.auc.toFixed(1)})`
      : `reward ${iv.estimate.toFixed(3)} from ${iv.rounds} paired round(s), too few for an interval (${MIN_INTERVAL_ROUNDS}); AUC ${vs.auc.toFixed(1)} / ${bs.auc.toFixed(1)}`);
    if (!conclusive) notes.push(`inconclusive: the interval is +-${(100 * relativePrecision(iv)).toFixed(1)}%, wider than +-${(100 * precision).toFixed(1)}%${exhausted ? ' (query pool exhausted)' : ` after ${iv.rounds} rounds`}`);
  }
  for (const [s, c] of [[variant, curves[1]], [baseline, curves[0]]] as const) {
    if (s.rejected.size) notes.push(`${s.name}: ${s.rejected.size} point(s) rejected (reps disagree)`);
    if (c.length < s.points.size - s.rejected.size) notes.push(`${s.name}: ${s.points.size - s.rejected.size - c.length} identical configuration(s) merged`);
    const w = pointsInWindow(c);
    if (w < MIN_WINDOW_POINTS) notes.push(`${s.name}: only ${w} point(s) in the recall window`);
  }
  const fields: RewardFields = {
    variantAuc: vs.auc, baselineAuc: bs.auc, qpsAt90: vs.qpsAt90, qpsAt95: vs.qpsAt95, qpsAt99: vs.qpsAt99,
    // Reported by the variant's own counter, so informational: never part of the reward.
    evaluationsAt95: evaluationsAtRecall(curves[1], 0.95), variantCurve: curves[1], baselineCurve: curves[0],
    reward, interval, conclusive,
  };
  return { fields, reason: notes.join('; ') };
}
