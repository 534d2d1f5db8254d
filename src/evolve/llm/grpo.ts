/**
 * GRPO bookkeeping. Each prompt is sampled G times (a group); once every sample of a group has a
 * reward, each gets advantage = (reward - group mean) / group std, where std is the population
 * standard deviation over the group (divide by G), and 0 when the std is 0 (all rewards equal, or
 * G = 1). TRL's GRPOTrainer divides by the sample std (G - 1) plus 1e-4; recompute from `reward`
 * and `group_id` if a trainer needs its exact convention.
 *
 * RUN/trajectories.jsonl, one JSON object per sample, appended with an fsync per line:
 *   prompt       [{role, content}, ...]  conversational prompt (system + user). For a sample that
 *                needed a repair turn: the original prompt + the model's first reply + the repair
 *                request, so `completion` is the answer to exactly this prompt.
 *   completion   [{role: "assistant", content}]
 *   reward       number   the evaluator's reward (AUC ratio vs the baseline); a failed sample
 *                         (bad reply, failed request, failed evaluation) gets failureReward (0 by default)
 *   advantage    number   as above, within the group
 *   group_id     string   "<module>-g<n>", the same for the G samples of one prompt
 *   sample       number   0..G-1
 *   module       string   graph | search | refine (the loop's stage)
 *   stage        string   where the sample ended: reply | request | load | compile | correctness | timing | reward
 *   status       "ok" | "failed"
 *   reason       string   why it failed ('' when ok)
 *   variant_hash string | null   the stored variant (RUN/store/<hash>), null when no variant was made
 *   repaired     boolean
 *   model, prompt_tokens, completion_tokens, time
 * A sample whose variant was never evaluated (the loop cut the group to its evaluation budget, or
 * the run stopped first) has no row: it has no reward, and 0 would teach the model something false.
 * The prompt / completion / reward columns are what TRL's trainers (GRPO, and reward-weighted SFT)
 * read from a `datasets` JSON-lines file: `load_dataset("json", data_files="trajectories.jsonl")`.
 */
import path from 'node:path';
import type { ChatMessage } from './client.ts';
import { appendJsonl, readJsonl } from './jsonl.ts';

export const TRAJECTORIES_FILE = 'trajectories.jsonl';

export function groupAdvantages(rewards: readonly number[]): number[] {
  const n = rewards.length;
  if (n === 0) return [];
  const mean = rewards.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / n);
  // Relative tolerance: rewards equal up to float noise carry no signal.
  if (!(std > 1e-12 * Math.max(1, Math.abs(mean)))) return rewards.map(() => 0);
  return rewards.map((r) => (r - mean) / std);
}

export interface TrajectoryRow {
  prompt: ChatMessage[];
  completion: ChatMessage[];
  reward: number;
  advantage: number;
  group_id: string;
  sample: number;
  module: string;
  stage: string;
  status: 'ok' | 'failed';
  reason: string;
  variant_hash: string | null;
  repaired: boolean;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  time: string;
}

export function trajectoriesFile(runDir: string): string {
  return path.join(runDir, TRAJECTORIES_FILE);
}

export function readTrajectories(runDir: string): TrajectoryRow[] {
  return readJsonl(trajectoriesFile(runDir)) as TrajectoryRow[];
}

/**
 * Appends a settled group (advantages computed here). Rows already on disk (a crash between
 * rows) are not written twice.
 */
export function writeGroup(runDir: string, rows: Omit<TrajectoryRow, 'advantage'>[]): TrajectoryRow[] {
  const adv = groupAdvantages(rows.map((r) => r.reward));
  const full = rows.map((r, i) => ({ ...r, advantage: adv[i] }));
  const have = new Set(readTrajectories(runDir).map((r) => `${r.group_id}#${r.sample}`));
  for (const r of full) if (!have.has(`${r.group_id}#${r.sample}`)) appendJsonl(trajectoriesFile(runDir), r);
  return full;
}
