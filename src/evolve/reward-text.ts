/**
 * How every report writes a verdict's reward: the number with its 95% interval, and what it means
 * when it cannot decide anything (inconclusive) or was never measured (void: the evaluator's fault).
 * One function, so the summary, the run report, the prompt exemplars and the bundle manifest agree.
 */
import type { Verdict } from './contract.ts';

const f = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

/** "1.042 [0.981, 1.107]", "0.98 [0.71, 1.35] inconclusive", "failed (compile)", "void (baseline)". */
export function rewardText(v: Pick<Verdict, 'status' | 'stage' | 'reward' | 'interval' | 'conclusive' | 'fault'> | undefined, digits = 3): string {
  if (!v) return '-';
  if (v.status === 'void') return `void (${v.fault ?? 'evaluator'})`;
  if (v.status !== 'ok' || v.reward === null) return `failed (${v.stage})`;
  const iv = v.interval ? ` [${f(v.interval.lo, digits)}, ${f(v.interval.hi, digits)}]` : '';
  return `${f(v.reward, digits)}${iv}${v.conclusive === false ? ' inconclusive' : ''}`;
}
