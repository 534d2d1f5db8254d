/**
 * Which earlier variants the contrastive prompt shows: drawn without replacement with probability
 * proportional to exp((reward - max reward) / temperature) (a temperature-scaled softmax; low
 * temperature favours the best, high spreads out). Contrast needs slow examples too, so when the
 * draw holds none from the slower half of the candidates, the last slot is drawn, by the same
 * softmax, from the slower half only. Seeded: the same history and seed give the same exemplars,
 * so a resumed run builds the same prompt.
 */
import { uniformStream } from '../../graph/rng.ts';
export interface Scored {
  reward: number;
}

/** Seeded uniforms in [0, 1): the project's one mulberry32 (graph/rng.ts). */
export const rng = uniformStream;

export function softmaxWeights(rewards: readonly number[], temperature: number): number[] {
  if (rewards.length === 0) return [];
  const top = Math.max(...rewards);
  const w = rewards.map((r) => Math.exp((r - top) / temperature));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
}

function drawOne(pool: number[], weights: number[], rand: () => number): number {
  const total = pool.reduce((s, i) => s + weights[i], 0);
  let u = rand() * total;
  for (const i of pool) {
    u -= weights[i];
    if (u <= 0) return i;
  }
  return pool[pool.length - 1];
}

/** Indices into `items` of the exemplars, ordered by reward (best first). */
export function sampleExemplars<T extends Scored>(items: readonly T[], count: number, temperature: number, seed: number): T[] {
  if (count <= 0 || items.length === 0) return [];
  if (items.length <= count) return [...items].sort((a, b) => b.reward - a.reward);
  const rand = rng(seed);
  const weights = softmaxWeights(items.map((x) => x.reward), temperature);
  // Slower half: below the median reward.
  const sorted = [...items.keys()].sort((a, b) => items[b].reward - items[a].reward);
  const slow = new Set(sorted.slice(Math.ceil(items.length / 2)));
  const chosen: number[] = [];
  let left = [...items.keys()];
  for (let s = 0; s < count; s++) {
    const lastSlot = s === count - 1 && count >= 2;
    const needSlow = lastSlot && slow.size > 0 && !chosen.some((i) => slow.has(i));
    const pool = needSlow ? left.filter((i) => slow.has(i)) : left;
    const pick = drawOne(pool, weights, rand);
    chosen.push(pick);
    left = left.filter((i) => i !== pick);
  }
  return chosen.map((i) => items[i]).sort((a, b) => b.reward - a.reward);
}
