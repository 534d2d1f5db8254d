/**
 * The loop's evaluator seam: the loop hands an EvaluationBackend one job per proposal and gets a
 * verdict back. A job names everything by content (the variant and the earlier stages' best by
 * hash, with their files), so a backend on another machine (src/farm/) needs nothing from this
 * run's folder. The backend says how many jobs it runs at once per lane; the loop (loop.ts drive)
 * keeps that many in flight and journals each verdict once.
 *
 * localBackend is the evaluator of `crinn evaluate` on this machine: one job at a time, because
 * one machine owns its adapter while it times (two evaluations at once would time each other).
 */
import type { ModuleName } from '../bundle/module-manifest.ts';
import type { Variant, Verdict } from './contract.ts';
import { getVariant, type VariantFile } from './store.ts';

/** A variant by content: its hash (store.ts variantHash of files + knob values), variant.json and files. */
export interface VariantRef {
  hash: string;
  variant: Variant;
  files: VariantFile[];
}

export interface EvaluationJob {
  /** Unique per proposal and stable across sessions (run id, lane, stage, proposal index): a resubmitted job is the same job. */
  id: string;
  /** The farm lane (adapter name) the job is for; undefined on this machine. */
  lane?: string;
  module: ModuleName;
  variant: VariantRef;
  /** Best variants of the earlier stages, applied to both sides (evaluate.ts EvaluateOptions.context). */
  context: Partial<Record<ModuleName, VariantRef>>;
  /** Dataset name or path as the run was given it. */
  dataset: string;
  seed: number;
  /** The stage's best reward so far (the evaluator re-measures a reward far above it). */
  bestSoFar: number | null;
  /** RunConfig.evaluator, unchanged. */
  settings: Record<string, unknown>;
  /** Epoch ms at which an evaluation still running is cut (void). */
  deadline?: number;
}

export interface JobResult {
  verdict: Verdict;
  /** Who ran it (farm: the worker's id), for the journal and `crinn runs report`. */
  worker?: string;
  /** The id the backend ran it under, when not the job's own (the farm's, in Redis). */
  job?: string;
}

export interface EvaluationBackend {
  /** Jobs this backend runs at once for a lane (at least 1). */
  concurrency(lane: string | undefined): Promise<number>;
  /** Resolves with the verdict; rejects when the backend itself failed (never for the variant's failure). */
  submit(job: EvaluationJob): Promise<JobResult>;
  close?(): Promise<void>;
}

/** Options the loop's Evaluator functions receive (evaluator-adapter.ts, the test fixtures). */
export interface EvaluateOptions {
  dataset: string;
  module: ModuleName;
  /** Variant folders of the best earlier-stage modules this variant runs on top of. */
  context: Partial<Record<ModuleName, string>>;
  seed: number;
  /** The stage's best reward so far (null before any success): the evaluator re-measures far above it. */
  bestSoFar: number | null;
  /** RunConfig.evaluator, unchanged. */
  options: Record<string, unknown>;
  /** Epoch ms at which an evaluation still running is cut (void): the time budget plus DEADLINE_MARGIN_S. */
  deadline?: number;
}

/** Evaluates one variant folder against the baseline (the evaluator of `crinn evaluate`). */
export type Evaluator = (variantDir: string, opts: EvaluateOptions) => Promise<Verdict>;

/**
 * Runs jobs with `evaluate` on this machine, one at a time. Variants are read from `storeRoot`'s
 * content-addressed store (store.ts), which the job's hashes name; `storeRoot` is the run folder.
 */
export function localBackend(storeRoot: string, evaluate: Evaluator): EvaluationBackend {
  return {
    concurrency: async () => 1,
    async submit(job) {
      const dir = getVariant(storeRoot, job.variant.hash).dir;
      const context: Partial<Record<ModuleName, string>> = {};
      for (const [m, ref] of Object.entries(job.context)) context[m as ModuleName] = getVariant(storeRoot, ref!.hash).dir;
      const verdict = await evaluate(dir, { dataset: job.dataset, module: job.module, context, seed: job.seed, bestSoFar: job.bestSoFar, options: job.settings, deadline: job.deadline });
      return { verdict };
    },
  };
}
