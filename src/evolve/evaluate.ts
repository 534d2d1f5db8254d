/**
 * The evaluator: one variant against the shipped baseline of its module, each in its own sandbox
 * child (eval-system.ts, entry eval-child.ts). The variant computes ids; everything else is decided
 * here (docs/ARCHITECTURE.md "The evaluator" and "The reward"):
 *  - queries: distinct, never near-copies of each other (query-pool.ts); each system sees each one
 *    at most once; ground truth is computed in this process and never sent;
 *  - time: this process's clock around one call that drains the queue, searches and drains again;
 *  - plan: each system's efforts are planned by the bench's SweepPlanner (one fresh batch per effort);
 *  - paired rounds: every round, the efforts that shape each AUC are measured again, the two
 *    systems back to back on the same fresh batch in random order; each round gives one ratio
 *    AUC(variant) / AUC(baseline); the reward is their median with a distribution-free 95% interval
 *    (src/bench/interval.ts), and rounds continue until it is narrower than `precision` or a cap
 *    is hit, when the verdict says inconclusive;
 *  - scoring: every batch's ids are checked (range, duplicates, distances) and scored; a point whose
 *    batches disagree beyond sampling noise is rejected; points whose probe answers are identical are
 *    merged before the Pareto frontier;
 *  - faults: a baseline failure or stall voids the evaluation (retried once), never the variant's;
 *    an evaluation past its deadline is cut and void.
 * Stages and their timeouts, one file each: load (variant.json, here), compile (sandbox start, graph
 * build, kernels; compileMs; eval-open.ts), correctness (probe: ids valid, recall floor;
 * correctnessMs; eval-correctness.ts, eval-answers.ts), timing (callMs per call; eval-timing.ts,
 * the bench's sweep driver), reward (eval-reward.ts). The two sides: eval-side.ts over eval-system.ts.
 *
 *   const verdict = await evaluateVariant({ variantDir, dataset: 'siftsmall-5k' });
 */
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import type { Dataset, VectorSet } from '../data/types.ts';
import { loadDataset } from '../data/resolve.ts';
import { seededRng } from '../bench/sweep.ts';
import type { Stage, Verdict } from './contract.ts';
import { loadVariant, type LoadedModule } from './modules.ts';
import { QueryPool, type QueryBatch } from './query-pool.ts';
import { poolFiltersFor, probeEffortUnder, type FilterSetting } from './pool-filter.ts';
import { MAX_ITOPK } from '../search/params.ts';
import { openPoolTruth, type PoolTruth } from './pool-truth.ts';
import { datasetFingerprint } from '../data/fingerprint.ts';
import type { AdapterQuery } from '../gpu/adapters.ts';
import { BaselineFault, DeadlineFault, StageFail } from './eval-system.ts';
import { resolveOptions, type EvaluateOptions, type Resolved } from './eval-options.ts';
import { openSides } from './eval-open.ts';
import { EvalSide } from './eval-side.ts';
import { checkCorrectness } from './eval-correctness.ts';
import { QueryFeed, timeSides } from './eval-timing.ts';
import { reportedQps, sideCurve } from './eval-curves.ts';
import { rewardOf } from './eval-reward.ts';

export type { EvaluateOptions } from './eval-options.ts';
export { checkResults, rowsAsSearched } from './eval-answers.ts';
export { StageFail } from './eval-system.ts';

type VerdictBase = Omit<Verdict, 'status' | 'stage' | 'reason' | 'seconds'>;

/**
 * Evaluates a variant. A baseline failure or stall voids the evaluation and it runs once more; a
 * second fault is reported as status 'void' (fault 'baseline'), never as the variant's failure.
 */
export async function evaluateVariant(opts: EvaluateOptions): Promise<Verdict> {
  const first = await evaluateRetrying(opts);
  if (first.status === 'ok' && opts.remeasureAbove !== undefined && first.reward !== null && first.reward > opts.remeasureAbove) {
    opts.onProgress?.(`reward ${first.reward.toFixed(3)} above ${opts.remeasureAbove}: re-measuring`);
    const second = await evaluateRetrying({ ...opts, seed: undefined });
    const keep = second.status !== 'ok' || (second.reward ?? 0) < first.reward ? second : first;
    return { ...keep, reason: `${keep.reason}; re-measured (rewards ${first.reward.toFixed(3)}, ${second.reward?.toFixed(3) ?? second.status}), the lower kept`, seconds: first.seconds + second.seconds };
  }
  return first;
}

async function evaluateRetrying(opts: EvaluateOptions): Promise<Verdict> {
  const first = await evaluateOnce(opts);
  if (first.status !== 'void' || first.fault !== 'baseline') return first;
  opts.onProgress?.(`evaluator fault (${first.reason}); evaluating once more`);
  const second = await evaluateOnce({ ...opts, seed: opts.seed === undefined ? undefined : opts.seed + 1 });
  if (second.status === 'void' && second.fault === 'baseline') return { ...second, reason: `evaluator fault twice: ${first.reason}; then ${second.reason}`, seconds: first.seconds + second.seconds };
  return { ...second, seconds: first.seconds + second.seconds };
}

/** One evaluation: load, then the stages; a StageFail is the variant's, a fault voids it. */
async function evaluateOnce(opts: EvaluateOptions): Promise<Verdict> {
  const t0 = performance.now();
  const o = resolveOptions(opts);
  const ds = typeof opts.dataset === 'object' ? opts.dataset : await loadDataset(opts.dataset ?? 'siftsmall-5k', { dataDir: opts.dataDir });
  if (o.k > ds.base.n) throw new UserError(`k: ${o.k} is larger than the base set (${ds.base.n} vectors)`);
  let variantMod: LoadedModule | undefined;
  let loadError: string | undefined;
  try {
    variantMod = loadVariant(opts.variantDir);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    loadError = e.message;
  }
  const common: VerdictBase = {
    module: variantMod?.module ?? 'search', variantHash: variantMod?.hash ?? '', dataset: ds.name, adapter: '',
    variantAuc: null, baselineAuc: null, reward: null, interval: null, qpsAt90: null, qpsAt95: null, qpsAt99: null, evaluationsAt95: null,
    variantCurve: [], baselineCurve: [],
  };
  const end = (status: Verdict['status'], stage: Stage, reason: string, extra: Partial<Verdict> = {}): Verdict => ({ ...common, ...extra, status, stage, reason, seconds: (performance.now() - t0) / 1000 });
  if (!variantMod) return end('failed', 'load', loadError!);
  const scratchRoot = mkdtempSync(join(tmpdir(), 'crinn-eval-'));
  const sides: EvalSide[] = [];
  const at = { stage: 'compile' as Stage };
  // The curves measured so far: a failed or void verdict still shows them.
  const curves = (): Partial<Verdict> => {
    const [b, v] = sides;
    return { variantCurve: v ? sideCurve(v, reportedQps) : [], baselineCurve: b ? sideCurve(b, reportedQps) : [] };
  };
  try {
    const { fields, reason } = await runStages(ds, variantMod, o, scratchRoot, sides, at, common);
    return end('ok', 'reward', reason, fields);
  } catch (e) {
    if (e instanceof StageFail) return end('failed', e.stage, e.message, curves());
    if (e instanceof BaselineFault) return end('void', at.stage, `evaluator fault: ${e.message}`, { ...curves(), fault: 'baseline' });
    if (e instanceof DeadlineFault) return end('void', at.stage, `cut at the deadline: ${e.message}`, { ...curves(), fault: 'deadline' });
    throw e;
  } finally {
    await Promise.all(sides.map((s) => s.sys?.close()));
    rmSync(scratchRoot, { recursive: true, force: true });
  }
}

/** Stages compile, correctness, timing and reward; `at.stage` follows them (a fault is reported at it). */
async function runStages(ds: Dataset, variantMod: LoadedModule, o: Resolved, scratchRoot: string, sides: EvalSide[], at: { stage: Stage }, common: VerdictBase): Promise<ReturnType<typeof rewardOf>> {
  const seed = o.seed ?? randomInt(2 ** 31);
  // The query sequence has its own stream: a seed fixes the probe and every batch (queryPoolFor).
  const rng = seededRng(seed + 1);
  const pool = queryPoolFor(ds, o.k, seed, o.filter);
  const log = o.onProgress ?? (() => {});
  if (pool.filters) log(`filtered evaluation: ${pool.filters.description}`);
  const t0 = performance.now();
  const truth = await openPoolTruth({ ...ds, fingerprint: datasetFingerprint(ds) }, o.k, o.truth ?? 'auto', o.adapter as AdapterQuery | undefined, log);
  try {
    const probeN = Math.min(o.probeQueries, pool.size);
    await pool.prepare(probeN, truth);
    const probe = pool.batch(0, probeN);
    log(`probe: ${probe.queries.n} queries, truth on the ${truth.kind} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    return await timedStages(ds, variantMod, o, scratchRoot, sides, at, common, { rng, pool, probe, truth, log });
  } finally {
    truth.close();
  }
}

async function timedStages(ds: Dataset, variantMod: LoadedModule, o: Resolved, scratchRoot: string, sides: EvalSide[], at: { stage: Stage }, common: VerdictBase,
  q: { rng: () => number; pool: QueryPool; probe: QueryBatch; truth: PoolTruth; log: (line: string) => void }): Promise<ReturnType<typeof rewardOf>> {
  const { rng, pool, probe, truth, log } = q;
  const env = { ds, module: variantMod.module, k: o.k, probe, compileMs: o.compileMs, callMs: o.callMs, searchedRows: new Map<string, VectorSet>(), filter: pool.filters };
  await openSides(sides, variantMod, { ...env, o, scratchRoot, rng, log });
  const [baseline, variant] = sides;
  common.adapter = baseline.sys!.adapter;
  at.stage = 'correctness';
  await checkCorrectness(sides, { ...o, probeEffort: probeEffortUnder(o.probeEffort, pool.filters, MAX_ITOPK) }, rng);
  at.stage = 'timing';
  const timing = await timeSides([baseline, variant], new QueryFeed(pool, probe.queries.n, o.queriesPerCall, truth), o, rng, log, ds.name);
  at.stage = 'reward';
  const r = rewardOf([baseline, variant], timing, o.precision, pool.size);
  return pool.filters ? { ...r, reason: `${r.reason}; filtered: ${pool.filters.description}` } : r;
}

/**
 * The evaluation's query sequence (probe first, then the timed batches) for a seed; tests rebuild
 * it. A filter setting gives each query a filter drawn from its own stream (seed + 2): the
 * queries are the unfiltered evaluation's.
 */
export function queryPoolFor(ds: Dataset, k: number, seed: number, filter?: FilterSetting): QueryPool {
  const size = ds.queries.n + ds.base.n;
  const filters = filter ? poolFiltersFor(ds, filter, k, seed + 2, size) : undefined;
  return new QueryPool(ds.base, ds.queries, ds.metric, k, seededRng(seed), undefined, filters);
}
