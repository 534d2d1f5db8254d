/**
 * The contract between the evaluator (`crinn evaluate`) and the optimisation loop
 * (`crinn optimize`): variant folders and verdicts (module manifests:
 * src/bundle/module-manifest.ts). Both sides validate with these schemas, so a variant written by a
 * policy and a verdict written by the evaluator mean the same thing to all.
 */
import { z } from 'zod';
import { MODULE_NAMES, curvePoint, moduleManifestSchema, operatingPointFields, rewardInterval } from '../bundle/module-manifest.ts';

/** variant.json in a variant folder: the module's manifest plus this variant's knob values. */
export const variantSchema = z.object({
  manifest: moduleManifestSchema,
  knobValues: z.record(z.string(), z.number()),
  /** Content hash (sha256 of files + knob values) of each parent variant; [] for the baseline. */
  parents: z.array(z.string()).default([]),
  /** Who made it: 'baseline' | 'autotune' | 'llm' | 'user'. */
  origin: z.string().default('user'),
});
export type Variant = z.infer<typeof variantSchema>;

export const STAGES = ['load', 'compile', 'correctness', 'timing', 'reward'] as const;
export type Stage = (typeof STAGES)[number];

/** What `crinn evaluate` prints as JSON and the loop journals: one variant against the baseline. */
export const verdictSchema = z.object({
  /** ok: measured; failed: the variant's fault (stage, reason); void: the evaluator's (fault says which), never charged to the variant. */
  status: z.enum(['ok', 'failed', 'void']),
  /** The stage that failed, or 'reward' when all passed. */
  stage: z.enum(STAGES),
  reason: z.string(),
  module: z.enum(MODULE_NAMES),
  variantHash: z.string(),
  dataset: z.string(),
  adapter: z.string(),
  variantAuc: z.number().nullable(),
  baselineAuc: z.number().nullable(),
  /** AUC(variant) / AUC(baseline): the geometric mean of the paired rounds' ratios, measured interleaved in this evaluation. */
  reward: z.number().nullable(),
  /** The reward's 95% interval; absent in verdicts written before intervals existed. */
  interval: rewardInterval.nullable().optional(),
  /** false: the interval stayed wider than the evaluator's precision: the number is not supported (a gain is still decided by the interval's low end). */
  conclusive: z.boolean().optional(),
  /** With status void: the baseline failed or stalled, the evaluation ran past the loop's deadline, or the evaluator itself threw. */
  fault: z.enum(['baseline', 'deadline', 'internal']).optional(),
  ...operatingPointFields,
  variantCurve: z.array(curvePoint),
  baselineCurve: z.array(curvePoint),
  seconds: z.number(),
});
export type Verdict = z.infer<typeof verdictSchema>;
