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
 * Stages and their timeouts: load (variant.json), compile (sandbox start, graph build, kernels;
 * compileMs), correctness (probe: ids valid, recall floor; correctnessMs), timing (callMs per call), reward.
 *
 *   const verdict = await evaluateVariant({ variantDir, dataset: 'siftsmall-5k' });
 */
import { createHash, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import type { Dataset, Metric, VectorSet } from '../data/types.ts';
import { distance } from '../data/metric.ts';
import { loadDataset } from '../data/resolve.ts';
import type { Index } from '../search/engine.ts';
import { recallAtK } from '../bench/recall.ts';
import { auc, evaluationsAtRecall, summarize, pointsInWindow, MIN_WINDOW_POINTS, DEFAULT_WINDOW } from '../bench/reward.ts';
import { SweepPlanner, seededRng, shuffle } from '../bench/sweep.ts';
import { median } from '../bench/stats.ts';
import { MIN_INTERVAL_ROUNDS, formatInterval, pairedRatioInterval, relativePrecision, type RatioInterval } from '../bench/interval.ts';
import { projectReadPaths } from './sandbox-isolation.ts';
import type { Stage, Verdict } from './contract.ts';
import type { CurvePoint, ModuleName } from '../bundle/module-manifest.ts';
import { loadBaseline, loadVariant, type LoadedModule } from './modules.ts';
import { storageOf } from '../search/knob-params.ts';
import { codecFor, type VectorStorage } from '../data/codecs/registry.ts';
import { QueryPool, type QueryBatch } from './query-pool.ts';
import { openPoolTruth, type PoolTruth } from './pool-truth.ts';
import { datasetFingerprint } from '../data/fingerprint.ts';
import type { AdapterQuery } from '../gpu/adapters.ts';
import { graphIndex, trustedIndex } from './eval-graph.ts';
import { BaselineFault, DeadlineFault, EvalSystem, StageFail, type SystemName } from './eval-system.ts';
import type { OpenPayload } from './eval-child.ts';

export const EVAL_CHILD = fileURLToPath(new URL('./eval-child.ts', import.meta.url));

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

const DEFAULTS = {
  // Efforts below k share one kernel (itopk = k, fewer iterations); each one from k up is a compile
  // of its own (seconds to tens of seconds cold on lavapipe): start low, the planner raises effort
  // geometrically while recall stays below the window.
  k: 10, queriesPerCall: 64, reps: 12, maxRounds: 30, precision: 0.1, efforts: [2, 4, 8, 16], maxPoints: 10, probeQueries: 32,
  probeEffort: 16, recallFloor: 0.7, compileMs: 180_000, correctnessMs: 120_000, callMs: 60_000,
};
type Resolved = typeof DEFAULTS & EvaluateOptions;

/** One effort of one system: the recall of every batch it answered, the plan's QPS and each round's. */
interface PointData {
  effort: number;
  recalls: number[];
  perQuery: number[];
  planQps: number;
  roundQps: Map<number, number>;
}

interface Side {
  name: SystemName;
  mod: LoadedModule;
  index: Index;
  sys?: EvalSystem;
  /** Probe answer hash per effort: identical configurations are merged. */
  signature: Map<number, string>;
  /** Mean distance evaluations per probe query, per effort: reported by the child, informational only. */
  evaluations: Map<number, number>;
  points: Map<number, PointData>;
  rejected: Set<number>;
}

/**
 * The base rows as an index stored with `storage` holds them, which its search's distances are
 * computed on: the codec's round (decode of encode; f16: rounded to f16, f32: the rows themselves).
 * The evaluator checks a system's distances against these (checkResults).
 */
export function rowsAsSearched(base: VectorSet, storage: VectorStorage): VectorSet {
  const data = codecFor(storage).round(base.data);
  return data === base.data ? base : { ...base, data };
}

/**
 * A search's answer: ids in range [-1, n) with no repeats within a row, and each returned id's
 * distance the true one (finite, within 1e-3 relative of the metric's distance recomputed here,
 * rows ascending). Only ids are scored; distances are checked because they are part of what a
 * search returns to its user (`crinn search` writes them), so NaN or made-up distances are a wrong answer.
 */
export function checkResults(value: { ids?: unknown; distances?: unknown } | undefined, queries: VectorSet, k: number, base: VectorSet, metric: Metric): Int32Array {
  const nq = queries.n;
  const ids = checkIds(value?.ids, nq, k, base.n);
  const dist = value?.distances;
  if (!(dist instanceof Float32Array) || dist.length !== nq * k) {
    throw new StageFail('correctness', `expected ${nq} x ${k} distances as a Float32Array, got ${dist instanceof Float32Array ? dist.length : typeof dist}`);
  }
  const tol = (d: number) => 1e-3 * (1 + Math.abs(d));
  for (let q = 0; q < nq; q++) {
    let prev = -Infinity;
    for (let j = 0; j < k; j++) {
      const id = ids[q * k + j];
      if (id === -1) continue;
      const d = dist[q * k + j];
      const exact = distance(metric, queries.data, q, base.data, id, base.dim);
      if (!Number.isFinite(d) || Math.abs(d - exact) > tol(exact)) throw new StageFail('correctness', `query ${q} result ${j}: distance ${d} of id ${id} is not its true distance ${exact.toPrecision(6)}`);
      if (d < prev - tol(prev)) throw new StageFail('correctness', `query ${q}: distances not ascending at result ${j} (${d} after ${prev})`);
      prev = d;
    }
  }
  return ids;
}

/** Ids in range [-1, n) and no repeats within a row; else the variant fails correctness. */
export function checkIds(ids: unknown, nq: number, k: number, n: number): Int32Array {
  if (!(ids instanceof Int32Array) || ids.length !== nq * k) {
    throw new StageFail('correctness', `expected ${nq} x ${k} ids as an Int32Array, got ${ids instanceof Int32Array ? ids.length : typeof ids}`);
  }
  const seen = new Set<number>();
  for (let q = 0; q < nq; q++) {
    seen.clear();
    for (let j = 0; j < k; j++) {
      const v = ids[q * k + j];
      if (v < -1 || v >= n) throw new StageFail('correctness', `query ${q} result ${j}: id ${v} is outside [0, ${n}) (-1 = none)`);
      if (v === -1) continue;
      if (seen.has(v)) throw new StageFail('correctness', `query ${q}: id ${v} returned twice`);
      seen.add(v);
    }
  }
  return ids;
}

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

async function evaluateOnce(opts: EvaluateOptions): Promise<Verdict> {
  const t0 = performance.now();
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)), ...opts.timeouts } as Resolved;
  const seconds = () => (performance.now() - t0) / 1000;
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
  const end = (status: Verdict['status'], stage: Stage, reason: string, extra: Partial<Verdict> = {}): Verdict => ({ ...common, ...extra, status, stage, reason, seconds: seconds() });
  if (!variantMod) return end('failed', 'load', loadError!);
  const scratchRoot = mkdtempSync(join(tmpdir(), 'crinn-eval-'));
  const run = new Evaluation(ds, variantMod, o, scratchRoot, common);
  try {
    return await run.run(end);
  } catch (e) {
    if (e instanceof StageFail) return end('failed', e.stage, e.message, run.curves());
    if (e instanceof BaselineFault) return end('void', run.stage, `evaluator fault: ${e.message}`, { ...run.curves(), fault: 'baseline' });
    if (e instanceof DeadlineFault) return end('void', run.stage, `cut at the deadline: ${e.message}`, { ...run.curves(), fault: 'deadline' });
    throw e;
  } finally {
    await run.close();
    rmSync(scratchRoot, { recursive: true, force: true });
  }
}

/** One evaluation's state: the two sides, the query pool and the stage in progress. */
class Evaluation {
  stage: Stage = 'compile';
  private readonly sides: Side[] = [];
  private readonly rng: () => number;
  private readonly pool: QueryPool;
  private probe!: QueryBatch;
  private next = 0;
  private truth: PoolTruth | undefined;
  private rounds = 0;
  /** The base rows as each storage codec's index holds them (rowsAsSearched), by codec name. */
  private readonly searchedRows = new Map<string, VectorSet>();
  private readonly log: (line: string) => void;
  private readonly ds: Dataset;
  private readonly variantMod: LoadedModule;
  private readonly o: Resolved;
  private readonly scratchRoot: string;
  private readonly common: VerdictBase;

  constructor(ds: Dataset, variantMod: LoadedModule, o: Resolved, scratchRoot: string, common: VerdictBase) {
    this.ds = ds;
    this.variantMod = variantMod;
    this.o = o;
    this.scratchRoot = scratchRoot;
    this.common = common;
    const seed = o.seed ?? randomInt(2 ** 31);
    // The query sequence has its own stream: a seed fixes the probe and every batch (queryPoolFor).
    this.rng = seededRng(seed + 1);
    this.pool = queryPoolFor(ds, o.k, seed);
    this.log = o.onProgress ?? (() => {});
  }

  get module(): ModuleName {
    return this.variantMod.module;
  }

  async close(): Promise<void> {
    this.truth?.close();
    await Promise.all(this.sides.map((s) => s.sys?.close()));
  }

  /** The curves measured so far (a failed verdict still shows them). */
  curves(): Partial<Verdict> {
    const v = this.sides.find((s) => s.name === 'variant');
    const b = this.sides.find((s) => s.name === 'baseline');
    return { variantCurve: v ? this.curve(v, reportedQps) : [], baselineCurve: b ? this.curve(b, reportedQps) : [] };
  }

  async run(end: (status: Verdict['status'], stage: Stage, reason: string, extra?: Partial<Verdict>) => Verdict): Promise<Verdict> {
    const { o, ds, module } = this;
    const t0 = performance.now();
    this.truth = await openPoolTruth({ ...ds, fingerprint: datasetFingerprint(ds) }, o.k, o.truth ?? 'auto', o.adapter as AdapterQuery | undefined, this.log);
    this.probe = await this.takeBatch(Math.min(o.probeQueries, this.pool.size));
    this.log(`probe: ${this.probe.queries.n} queries, truth on the ${this.truth.kind} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    await this.open();
    this.common.adapter = this.sides[0].sys!.adapter;

    // ---- correctness: the probe at a generous effort; ids valid, recall above the floor.
    this.stage = 'correctness';
    for (const side of shuffle([...this.sides], this.rng)) {
      const { recall } = await this.probeRecall(side, o.probeEffort, 'correctness', o.correctnessMs);
      if (recall < o.recallFloor) {
        const msg = `recall ${recall.toFixed(3)} at itopk ${o.probeEffort} is below the floor ${o.recallFloor}`;
        if (side.name === 'baseline') throw new BaselineFault(`baseline ${module}: ${msg}`);
        throw new StageFail('correctness', msg);
      }
    }

    // ---- timing: plan each sweep, then paired rounds on the efforts that shape each AUC.
    this.stage = 'timing';
    this.log(`${module}: planning the sweeps (${o.queriesPerCall} fresh queries per call)`);
    await this.plan();
    const [baseline, variant] = this.sides;
    this.rejectNoisy();
    if (variant.rejected.size * 2 > variant.points.size) {
      throw new StageFail('timing', `repetitions disagree beyond sampling noise at ${variant.rejected.size} of ${variant.points.size} efforts (${[...variant.rejected].join(', ')})`);
    }
    const relevant = this.sides.map((s) => relevantEfforts(this.curve(s, planQps)));
    if (relevant[0].length === 0) throw new BaselineFault(`baseline ${module}: its curve never reaches recall ${DEFAULT_WINDOW.lo} on ${ds.name}`);
    let iv: RatioInterval | null = null;
    let exhausted = false;
    for (const [i, side] of this.sides.entries()) for (const e of relevant[i]) await this.count(side, e);
    if (relevant[1].length > 0) {
      this.log(`${module}: paired rounds (efforts baseline ${relevant[0].join(',')}; variant ${relevant[1].join(',')})`);
      for (;;) {
        const need = Math.max(relevant[0].length, relevant[1].length) * o.queriesPerCall;
        if (this.next + need > this.pool.size) { exhausted = true; break; }
        await this.round(relevant);
        this.rejectNoisy();
        iv = this.interval();
        if (iv) this.log(`${module}: round ${this.rounds}: reward ${formatInterval(iv)}`);
        // Narrow enough: no more rounds needed. (Never "stop once it excludes 1": looking after every
        // round for a side to come out on would make a 95% interval miss far more often than 5%.)
        if (iv && this.rounds >= Math.max(o.reps, MIN_INTERVAL_ROUNDS) && relativePrecision(iv) <= o.precision) break;
        if (this.rounds >= o.maxRounds) break;
      }
      if (variant.rejected.size * 2 > variant.points.size) {
        throw new StageFail('timing', `repetitions disagree beyond sampling noise at ${variant.rejected.size} of ${variant.points.size} efforts (${[...variant.rejected].join(', ')})`);
      }
      iv = this.interval();
    }

    // ---- reward
    this.stage = 'reward';
    const curves = this.sides.map((s) => this.curve(s, reportedQps));
    const [bs, vs] = curves.map((c) => summarize(c));
    const extra = {
      variantAuc: vs.auc, baselineAuc: bs.auc, qpsAt90: vs.qpsAt90, qpsAt95: vs.qpsAt95, qpsAt99: vs.qpsAt99,
      // Reported by the variant's own counter, so informational: never part of the reward.
      evaluationsAt95: evaluationsAtRecall(curves[1], 0.95), variantCurve: curves[1], baselineCurve: curves[0],
    };
    const notes: string[] = [];
    let reward: number;
    let interval: Verdict['interval'];
    let conclusive: boolean;
    if (!iv) {
      if (relevant[1].length > 0) throw new BaselineFault(`the query pool (${this.pool.size}) holds too few queries for one paired round; lower queriesPerCall`);
      // The variant never reaches the window: AUC 0 by definition, whatever its speed.
      reward = 0;
      interval = { lo: 0, hi: 0, level: 0.95, rounds: 0 };
      conclusive = true;
      notes.push(`reward 0: the variant's curve never reaches recall ${DEFAULT_WINDOW.lo}`);
    } else {
      reward = iv.estimate;
      // Fewer rounds than an interval needs (a small query pool): no interval, and never a gain.
      interval = iv.level > 0 ? { lo: iv.lo, hi: iv.hi, level: iv.level, rounds: iv.rounds } : null;
      conclusive = iv.level > 0 && relativePrecision(iv) <= o.precision;
      notes.push(iv.level > 0
        ? `reward ${formatInterval(iv)} (median of ${iv.rounds} paired rounds, ${(100 * iv.level).toFixed(1)}% interval; AUC ${vs.auc.toFixed(1)} / ${bs.auc.toFixed(1)})`
        : `reward ${iv.estimate.toFixed(3)} from ${iv.rounds} paired round(s), too few for an interval (${MIN_INTERVAL_ROUNDS}); AUC ${vs.auc.toFixed(1)} / ${bs.auc.toFixed(1)}`);
      if (!conclusive) notes.push(`inconclusive: the interval is +-${(100 * relativePrecision(iv)).toFixed(1)}%, wider than +-${(100 * o.precision).toFixed(1)}%${exhausted ? ' (query pool exhausted)' : ` after ${iv.rounds} rounds`}`);
    }
    for (const [s, c] of [[variant, curves[1]], [baseline, curves[0]]] as const) {
      if (s.rejected.size) notes.push(`${s.name}: ${s.rejected.size} point(s) rejected (reps disagree)`);
      if (c.length < s.points.size - s.rejected.size) notes.push(`${s.name}: ${s.points.size - s.rejected.size - c.length} identical configuration(s) merged`);
      const w = pointsInWindow(c);
      if (w < MIN_WINDOW_POINTS) notes.push(`${s.name}: only ${w} point(s) in the recall window`);
    }
    return end('ok', 'reward', notes.join('; '), { ...extra, reward, interval, conclusive });
  }

  /** Indexes, children and kernels of both sides, in random order (stage compile). */
  private async open(): Promise<void> {
    const { o, ds, module, variantMod } = this;
    const baselineMod = loadBaseline(module);
    const build = { scratchRoot: this.scratchRoot, timeoutMs: o.compileMs, memMiB: o.memMiB, allowNetwork: o.allowNetwork };
    let shared: Index | undefined;
    if (module !== 'graph') {
      // The earlier stage's best graph was built and checked when it was evaluated; a failure now is the evaluator's.
      const ctxGraph = o.context?.graph ? loadVariant(o.context.graph) : undefined;
      try {
        shared = ctxGraph ? await graphIndex(ds, ctxGraph, build) : await trustedIndex(ds, loadBaseline('graph').knobs);
      } catch (e) {
        if (e instanceof StageFail) throw new BaselineFault(`the context graph failed to build: ${e.message}`);
        throw e;
      }
    }
    const baselineIndex = shared ?? (await trustedIndex(ds, baselineMod.knobs));
    // A graph variant's own code builds in a throwaway child; a StageFail here is the variant's.
    const variantIndex = shared ?? (await graphIndex(ds, variantMod, build));
    this.sides.push(
      { name: 'baseline', mod: baselineMod, index: baselineIndex, signature: new Map(), evaluations: new Map(), points: new Map(), rejected: new Set() },
      { name: 'variant', mod: variantMod, index: variantIndex, signature: new Map(), evaluations: new Map(), points: new Map(), rejected: new Set() },
    );
    const searchCtx = o.context?.search && module === 'refine' ? loadVariant(o.context.search) : undefined;
    this.log(`${module}: starting the baseline and the variant in sandboxes`);
    for (const side of shuffle([...this.sides], this.rng)) {
      const entry = (side.name === 'variant' ? o.childEntry : o.baselineEntry) ?? EVAL_CHILD;
      side.sys = await EvalSystem.start(side.name, {
        entry, readPaths: [...projectReadPaths(), ...(entry !== EVAL_CHILD ? [dirname(entry)] : [])],
        scratch: mkdtempSync(join(this.scratchRoot, `${side.name}-`)), memMiB: o.memMiB ?? 4096, allowNetwork: o.allowNetwork,
        startMs: o.compileMs, callMs: o.callMs, deadline: o.deadline,
      });
      const payload: OpenPayload = {
        module, sources: side.mod.sources, knobs: side.mod.knobs, k: o.k, adapter: o.adapter, index: side.index,
        ...(searchCtx ? { searchContext: { sources: searchCtx.sources, knobs: searchCtx.knobs } } : {}),
      };
      const r = await side.sys.call<{ adapter: string }>('open', payload, 'compile', o.compileMs);
      side.sys.adapter = String(r.value?.adapter ?? '');
    }
  }

  /** A side's index searches the base rows as its storage codec holds them (f16: rounded): its distances are checked against those rows. */
  private distanceBase(side: Side): VectorSet {
    const storage = storageOf(this.module, side.mod.knobs);
    let rows = this.searchedRows.get(storage);
    if (!rows) this.searchedRows.set(storage, (rows = rowsAsSearched(this.ds.base, storage)));
    return rows;
  }

  private async probeRecall(side: Side, effort: number, stage: Stage, timeoutMs: number): Promise<{ recall: number; sig: string }> {
    const { ds, o, probe } = this;
    const r = await side.sys!.call<{ ids: unknown; distances: unknown }>('search', { queries: probe.queries.data, dim: ds.base.dim, k: o.k, effort }, stage, timeoutMs);
    const ids = this.checked(side, () => checkResults(r.value, probe.queries, o.k, this.distanceBase(side), ds.metric));
    const recall = recallAtK({ ids, nq: probe.queries.n, k: o.k }, ds.base, probe.queries, ds.metric, probe.kth, o.k).recall;
    return { recall, sig: createHash('sha256').update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)).digest('hex') };
  }

  /** A wrong answer from the baseline is the evaluator's fault. */
  private checked<T>(side: Side, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof StageFail && side.name === 'baseline') throw new BaselineFault(`baseline ${this.module}: ${e.message}`);
      throw e;
    }
  }

  /** Untimed: compiles the effort's kernel, warms it and fingerprints the configuration. */
  private async warm(side: Side, effort: number): Promise<void> {
    side.signature.set(effort, (await this.probeRecall(side, effort, 'timing', this.o.compileMs)).sig);
  }

  /**
   * Untimed: the work per probe query at an effort, from the child's counting kernel (its own
   * pipeline, a compile of its own: done for the efforts the rounds time, not every planned one).
   */
  private async count(side: Side, effort: number): Promise<void> {
    const { o, ds, probe } = this;
    const c = await side.sys!.call<{ evaluations?: unknown }>('search', { queries: probe.queries.data, dim: ds.base.dim, k: o.k, effort, countEvaluations: true }, 'timing', o.compileMs);
    const e = c.value?.evaluations;
    if (typeof e === 'number' && Number.isFinite(e) && e >= 0) side.evaluations.set(effort, e);
  }

  /** The next `count` fresh queries, their truth computed ahead in blocks (pool-truth.ts). */
  private async takeBatch(count = this.o.queriesPerCall): Promise<QueryBatch> {
    if (this.truth) await this.pool.prepare(this.next + count, this.truth);
    const b = this.pool.batch(this.next, count);
    this.next += count;
    return b;
  }

  /** One timed call: drain, search, drain in the child, the parent's clock around it; recall scored here. */
  private async timed(side: Side, effort: number, b: QueryBatch): Promise<{ recall: number; perQuery: number[]; qps: number }> {
    const { ds, o } = this;
    // Both drains are inside the timed call: whatever is still queued when the system is continued
    // (work it deferred past its last call) is its own, and so is what it leaves queued at return.
    const s = await side.sys!.call<{ ids: unknown; distances: unknown }>('search', { queries: b.queries.data, dim: ds.base.dim, k: o.k, effort, drain: true }, 'timing', o.callMs);
    const ms = s.ms;
    const ids = this.checked(side, () => checkResults(s.value, b.queries, o.k, this.distanceBase(side), ds.metric));
    const rr = recallAtK({ ids, nq: b.queries.n, k: o.k }, ds.base, b.queries, ds.metric, b.kth, o.k);
    return { recall: rr.recall, perQuery: Array.from(rr.perQuery), qps: b.queries.n / (ms / 1000) };
  }

  /** The planners' sweeps: each step, both systems' next efforts on one shared fresh batch, in random order. */
  private async plan(): Promise<void> {
    const { o } = this;
    const planners = this.sides.map(() => new SweepPlanner(o.efforts, { maxPoints: o.maxPoints, minEffort: 1, maxEffort: 512, integer: true }));
    for (;;) {
      const step = this.sides.map((side, i) => ({ side, planner: planners[i], effort: planners[i].next() })).filter((x) => x.effort !== null) as { side: Side; planner: SweepPlanner; effort: number }[];
      if (step.length === 0) return;
      if (this.next + o.queriesPerCall > this.pool.size) throw new UserError(`evaluate: ${this.ds.name} holds ${this.pool.size} distinct queries, too few for the sweep at ${o.queriesPerCall} per call; lower queriesPerCall or maxPoints`);
      for (const x of shuffle([...step], this.rng)) await this.warm(x.side, x.effort);
      const b = await this.takeBatch();
      for (const x of shuffle([...step], this.rng)) {
        const m = await this.timed(x.side, x.effort, b);
        x.side.points.set(x.effort, { effort: x.effort, recalls: [m.recall], perQuery: [...m.perQuery], planQps: m.qps, roundQps: new Map() });
        x.planner.record(x.effort, { recall: m.recall, qps: m.qps });
      }
    }
  }

  /**
   * One paired round: slot i pairs the baseline's i-th and the variant's i-th relevant effort on one
   * fresh batch, run back to back in random order; slots in random order.
   */
  private async round(relevant: number[][]): Promise<void> {
    const r = this.rounds;
    const slots = Math.max(...relevant.map((x) => x.length));
    for (const i of shuffle(Array.from({ length: slots }, (_, j) => j), this.rng)) {
      const b = await this.takeBatch();
      const pair = this.sides.map((side, s) => ({ side, effort: relevant[s][i] })).filter((x) => x.effort !== undefined);
      for (const x of shuffle(pair, this.rng)) {
        const m = await this.timed(x.side, x.effort, b);
        const p = x.side.points.get(x.effort)!;
        p.recalls.push(m.recall);
        p.perQuery.push(...m.perQuery);
        p.roundQps.set(r, m.qps);
      }
    }
    this.rounds++;
  }

  /** Sampling noise of a batch's mean recall; a batch further than 4 sigma (+0.02) from the point's mean rejects the point. */
  private rejectNoisy(): void {
    for (const side of this.sides) {
      for (const p of side.points.values()) {
        const mean = p.recalls.reduce((x, y) => x + y, 0) / p.recalls.length;
        const pm = p.perQuery.reduce((x, y) => x + y, 0) / p.perQuery.length;
        const sd = Math.sqrt(p.perQuery.reduce((x, y) => x + (y - pm) ** 2, 0) / Math.max(1, p.perQuery.length - 1));
        const tol = 0.02 + (4 * sd) / Math.sqrt(this.o.queriesPerCall);
        if (p.recalls.some((x) => Math.abs(x - mean) > tol)) side.rejected.add(p.effort);
      }
    }
  }

  /** The interval of the per-round AUC ratios (recall pooled over every batch; each round's own QPS). */
  private interval(): RatioInterval | null {
    const ratios: number[] = [];
    for (let r = 0; r < this.rounds; r++) {
      const [b, v] = this.sides.map((s) => auc(this.curve(s, (p) => p.roundQps.get(r))));
      if (!(b > 0)) return null;
      // A round where the variant's points all fell out of the window: a ratio of 0 has no log.
      ratios.push(Math.max(v / b, 1e-6));
    }
    return ratios.length ? pairedRatioInterval(ratios) : null;
  }

  /**
   * A side's curve: rejected points dropped; points with identical probe answers merged into one
   * (lowest effort, mean recall and median QPS over their members), so duplicate configurations
   * cannot offer the frontier the best of several noisy draws. `qpsOf` picks the QPS of a point
   * (undefined: the point is left out). `evaluations`: the probe's work per query (mean over merged efforts).
   */
  private curve(side: Side, qpsOf: (p: PointData) => number | undefined): CurvePoint[] {
    const groups = new Map<string, { effort: number; recall: number[]; qps: number[]; evaluations: number[] }>();
    for (const p of [...side.points.values()].sort((a, b) => a.effort - b.effort)) {
      if (side.rejected.has(p.effort)) continue;
      const sig = side.signature.get(p.effort) ?? String(p.effort);
      const g = groups.get(sig) ?? { effort: p.effort, recall: [], qps: [], evaluations: [] };
      g.recall.push(...p.recalls);
      const q = qpsOf(p);
      if (q !== undefined) g.qps.push(q);
      const e = side.evaluations.get(p.effort);
      if (e !== undefined) g.evaluations.push(e);
      groups.set(sig, g);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return [...groups.values()].filter((g) => g.qps.length > 0).map((g) => ({ effort: g.effort, recall: mean(g.recall), qps: median(g.qps), ...(g.evaluations.length ? { evaluations: mean(g.evaluations) } : {}) }));
  }
}

const planQps = (p: PointData) => p.planQps;
/** What a verdict reports: the median over the paired rounds where a point was in them, else its plan measurement. */
const reportedQps = (p: PointData) => (p.roundQps.size ? median([...p.roundQps.values()]) : p.planQps);

/**
 * The efforts that shape an AUC over the window, chosen by recall alone (never by a noisy QPS, or
 * two identical systems could time different points): those inside the window, the highest one
 * below it (interpolation reaches into the window from there) and the lowest one above it. Empty
 * when the curve never reaches the window's low end (its AUC is 0 whatever its speed).
 */
export function relevantEfforts(curve: readonly CurvePoint[]): number[] {
  const { lo, hi } = DEFAULT_WINDOW;
  const byRecall = [...curve].sort((a, b) => a.recall - b.recall || a.effort - b.effort);
  if (!byRecall.some((p) => p.recall >= lo)) return [];
  const below = byRecall.filter((p) => p.recall < lo).at(-1);
  const inside = byRecall.filter((p) => p.recall >= lo && p.recall <= hi);
  const above = byRecall.find((p) => p.recall > hi);
  return [below, ...inside, above].filter((p): p is CurvePoint => p !== undefined).map((p) => p.effort).sort((a, b) => a - b);
}

/** The evaluation's query sequence (probe first, then the timed batches) for a seed; tests rebuild it. */
export function queryPoolFor(ds: Dataset, k: number, seed: number): QueryPool {
  return new QueryPool(ds.base, ds.queries, ds.metric, k, seededRng(seed));
}

export { StageFail } from './eval-system.ts';
