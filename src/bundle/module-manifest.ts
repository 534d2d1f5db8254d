/**
 * Module manifests (kernels/baseline/MODULE/manifest.json, and each module of an exported bundle)
 * and the measured figures a bundle and a verdict both record. Shared by the bundle format
 * (src/bundle/format.ts), the library's bundle loader and the optimisation loop's contract
 * (src/evolve/contract.ts), so it lives below all of them.
 */
import { z } from 'zod';

export const MODULE_NAMES = ['graph', 'search', 'refine'] as const;
export type ModuleName = (typeof MODULE_NAMES)[number];

/** One tunable scalar: the loop samples it in [min, max], on a log scale when scale is 'log'. */
export const knobSchema = z.object({
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/),
  min: z.number(),
  max: z.number(),
  default: z.number(),
  scale: z.enum(['linear', 'log']).default('linear'),
  integer: z.boolean().default(true),
  /** Paper / CAGRA / hnswlib name, for people and for the LLM prompt. */
  doc: z.string().default(''),
}).refine((k) => k.min <= k.default && k.default <= k.max, { message: 'expected min <= default <= max' });
export type Knob = z.infer<typeof knobSchema>;

const knobRef = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/);
/**
 * A rule every knob setting of the module must satisfy (the kernel or the host refuses the rest).
 * A small closed vocabulary, so the autotune policy can evaluate it without a GPU
 * (src/evolve/constraints.ts) and the llm prompt can show it (kernels/baseline/README.md lists it):
 * - divides: knob `a`'s value divides knob `b`'s (teamSize | workgroupSize; implies a <= b);
 * - atMost: knob `a`'s value <= knob `b`'s;
 * - workgroupMemory: the search params of the setting at effort `effort` (the largest swept) and
 *   `k` results resolve (src/search/params.ts) and one beam-search workgroup fits in `limit` bytes
 *   (default: the WebGPU core 16384; an adapter's larger limit can be passed in) on a graph of
 *   degree `graphDegree` with an entry layer of degree `entryDegree` (params.ts fitWorkgroupMemory).
 */
export const constraintSchema = z.discriminatedUnion('rule', [
  z.object({ rule: z.literal('divides'), a: knobRef, b: knobRef, doc: z.string().default('') }).strict(),
  z.object({ rule: z.literal('atMost'), a: knobRef, b: knobRef, doc: z.string().default('') }).strict(),
  z.object({
    rule: z.literal('workgroupMemory'),
    effort: z.number().int().positive(),
    k: z.number().int().positive(),
    graphDegree: z.number().int().positive(),
    entryDegree: z.number().int().positive(),
    limit: z.number().int().positive().optional(),
    doc: z.string().default(''),
  }).strict(),
]);
export type Constraint = z.infer<typeof constraintSchema>;

/** A module's manifest.json: what a variant of it may change, and under which contract. */
export const moduleManifestSchema = z.object({
  module: z.enum(MODULE_NAMES),
  kind: z.enum(['wgsl', 'typescript', 'wgsl+typescript']),
  /** Contract version; a variant written for another version is refused at the load stage. */
  contract: z.number().int().positive(),
  /** Files of the module, relative to the variant folder (the baseline: relative to the repo). */
  files: z.array(z.string().min(1)).min(1),
  knobs: z.array(knobSchema),
  /** The search-effort knob (swept by the harness, never tuned): named apart from the tunables. */
  effort: z.object({ name: z.string(), min: z.number(), max: z.number() }).optional(),
  description: z.string().default(''),
  /** Rules over the knobs that every setting must satisfy (constraintSchema); absent: none. */
  constraints: z.array(constraintSchema).optional(),
}).superRefine((m, ctx) => {
  const names = m.knobs.map((k) => k.name);
  (m.constraints ?? []).forEach((c, i) => {
    if (c.rule === 'workgroupMemory') {
      if (m.module !== 'search') ctx.addIssue({ code: 'custom', path: ['constraints', i, 'rule'], message: `workgroupMemory applies to the search module only, not '${m.module}'` });
      return;
    }
    for (const f of ['a', 'b'] as const) {
      if (!names.includes(c[f])) ctx.addIssue({ code: 'custom', path: ['constraints', i, f], message: `unknown knob '${c[f]}'; declared: ${names.join(', ') || '(none)'}` });
    }
  });
});
export type ModuleManifest = z.infer<typeof moduleManifestSchema>;

/** One sweep point of a curve: what verdicts and exported bundles both record. */
export const curvePoint = z.object({ effort: z.number(), recall: z.number(), qps: z.number(), evaluations: z.number().optional() });
export type CurvePoint = z.infer<typeof curvePoint>;

/** QPS at the report's recall levels and the work per query at 0.95 (verdicts and bundles). */
export const operatingPointFields = {
  qpsAt90: z.number().nullable(),
  qpsAt95: z.number().nullable(),
  qpsAt99: z.number().nullable(),
  /** Distance evaluations per query at recall 0.95 (counted by the variant's own kernel: informational, never rewarded). */
  evaluationsAt95: z.number().nullable(),
};

/** The reward's 95% confidence interval from paired rounds (src/bench/interval.ts). */
export const rewardInterval = z.object({ lo: z.number(), hi: z.number(), level: z.number(), rounds: z.number().int().nonnegative() });
export type RewardInterval = z.infer<typeof rewardInterval>;

