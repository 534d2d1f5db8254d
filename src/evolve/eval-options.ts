/** The evaluator's options and their defaults (src/evolve/evaluate.ts; docs/ARCHITECTURE.md "The reward"). */
import type { Dataset } from '../data/types.ts';
import type { ModuleName } from '../bundle/module-manifest.ts';
import type { FilterSetting } from './pool-filter.ts';

export interface EvaluateOptions {
  variantDir: string;
  /** Dataset name or path (loadDataset), or a loaded dataset. Default siftsmall-5k. */
  dataset?: string | Dataset;
  dataDir?: string;
  adapter?: { adapter?: string; backend?: string };
  k?: number;
  /** Queries per timed call (each a fresh batch). Default 64. */
  queriesPerCall?: number;
  /** Paired rounds before the interval may stop the evaluation (at least MIN_INTERVAL_ROUNDS). Default 12: an interval from fewer rounds is narrow by luck often enough that stopping on it misses (a self-vs-self run stopped at 9 rounds on 1.076 [1.004, 1.176]). */
  reps?: number;
  /** Most paired rounds; then an interval wider than `precision` is reported inconclusive. Default 30. */
  maxRounds?: number;
  /** Target relative half-width of the reward's 95% interval (0.1 = +-10%). Default 0.1: what a 2-core software adapter reaches on a 5,000-row set (per-call noise 15-40% of the median). */
  precision?: number;
  /** Initial sweep efforts (refined by the planner). */
  efforts?: number[];
  /** Most points per system. */
  maxPoints?: number;
  /** Untimed probe queries (correctness check, warm-up and configuration signature per effort). */
  probeQueries?: number;
  /** Effort of the correctness probe and its recall floor. */
  probeEffort?: number;
  recallFloor?: number;
  timeouts?: { compileMs?: number; correctnessMs?: number; callMs?: number };
  /** Where each fresh query's k-th true distance is computed: 'auto' (the GPU exact kNN for a large base, pool-truth.ts), 'gpu' or 'cpu'. */
  truth?: 'auto' | 'cpu' | 'gpu';
  /**
   * A filtered evaluation (a dataset setting, not a new reward; pool-filter.ts): every query gets an
   * any-of filter of about this selectivity over the base's labels (the dataset's own, else seeded
   * Zipf labels of `labels`' spec); truth is the exact top-k among its passing rows and every
   * returned id must pass. Absent: unfiltered.
   */
  filter?: FilterSetting;
  /** Seed of query draws and measurement order; default random. */
  seed?: number;
  /** A reward above this is re-measured once and the lower one kept (the loop passes 3 x best so far). */
  remeasureAbove?: number;
  /** Epoch ms: no call runs after it; an evaluation still going is cut and void (the loop's budget). */
  deadline?: number;
  /**
   * Best variants of earlier stages (module -> variant folder), applied to both sides: `graph` (the
   * index searched when evaluating search or refine, built by its own code) and `search` (its kernels
   * and knobs search when evaluating refine). So the reward is the module's own gain on that pipeline.
   */
  context?: Partial<Record<ModuleName, string>>;
  /** Test hook: the variant child's entry module (default eval-child.ts). */
  childEntry?: string;
  /** Test hook: the baseline child's entry module (a stalling baseline shows faults are never the variant's). */
  baselineEntry?: string;
  allowNetwork?: boolean;
  memMiB?: number;
  onProgress?: (line: string) => void;
}

export const DEFAULTS = {
  // Efforts below k share one kernel (itopk = k, fewer iterations); each one from k up is a compile
  // of its own (seconds to tens of seconds cold on lavapipe): start low, the planner raises effort
  // geometrically while recall stays below the window.
  k: 10, queriesPerCall: 64, reps: 12, maxRounds: 30, precision: 0.1, efforts: [2, 4, 8, 16], maxPoints: 10, probeQueries: 32,
  probeEffort: 16, recallFloor: 0.7, compileMs: 180_000, correctnessMs: 120_000, callMs: 60_000,
};

/** The options with every default filled in (the timeouts flattened). */
export type Resolved = typeof DEFAULTS & EvaluateOptions;

export function resolveOptions(opts: EvaluateOptions): Resolved {
  return { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)), ...opts.timeouts } as Resolved;
}
