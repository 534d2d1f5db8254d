/**
 * Stage correctness: each side answers the probe at a generous effort, untimed; its ids must be
 * valid (eval-answers.ts) and its recall above the floor. A baseline below it voids the evaluation.
 */
import { shuffle } from '../bench/sweep.ts';
import { BaselineFault, StageFail } from './eval-system.ts';
import type { EvalSide } from './eval-side.ts';

export async function checkCorrectness(sides: readonly EvalSide[], o: { probeEffort: number; recallFloor: number; correctnessMs: number }, rng: () => number): Promise<void> {
  for (const side of shuffle([...sides], rng)) {
    const { recall } = await side.probeRecall(o.probeEffort, 'correctness', o.correctnessMs);
    if (recall < o.recallFloor) {
      const msg = `recall ${recall.toFixed(3)} at itopk ${o.probeEffort} is below the floor ${o.recallFloor}`;
      if (side.name === 'baseline') throw new BaselineFault(`baseline ${side.mod.module}: ${msg}`);
      throw new StageFail('correctness', msg);
    }
  }
}
