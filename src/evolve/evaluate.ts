/**
 * The evaluator: one variant against the shipped baseline of its module, interleaved in random
 * order in the same evaluation, each in its own sandbox child (sandbox.ts, entry eval-child.ts).
 * The variant computes ids; everything else is decided here (DESIGN.md "The evaluator"):
 *  - queries: perturbed held-out queries (query-pool.ts), a fresh batch per timed call, ground
 *    truth computed in this process and never sent;
 *  - time: this process's clock around the search call plus a queue drain (work left queued is paid for);
 *  - scoring: every repetition's ids are checked (range, duplicates, their distances) and scored; a point whose reps
 *    disagree beyond sampling noise is rejected; points whose probe answers are identical (the same
 *    configuration, e.g. a variant that ignores the effort) are merged before the Pareto frontier;
 *  - order: each sweep round, both systems' reps alternate in a fresh random order;
 *  - reward: AUC(variant) / AUC(baseline) with src/bench/reward.ts, efforts planned by
 *    src/bench/sweep.ts's SweepPlanner (the same planner `crinn bench` uses).
 *  - work per query: an untimed counting run on the probe per effort (the child's own counter, so
 *    reported, never rewarded): `evaluations` on curve points and evaluationsAt95.
 * Stages and their timeouts: load (variant.json), compile (sandbox start + kernels built, compileMs),
 * correctness (probe: ids valid, recall floor, correctnessMs), timing (callMs per call), reward.
 *
 *   const verdict = await evaluateVariant({ variantDir, dataset: 'siftsmall-5k' });
 */
import { createHash, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError, oneLine } from '../errors.ts';
import type { Dataset, Metric, VectorSet } from '../data/types.ts';
import { distance } from '../data/metric.ts';
import { loadDataset } from '../data/resolve.ts';
import { buildIndex, type Index } from '../search/engine.ts';
import { recallAtK } from '../bench/recall.ts';
import { evaluationsAtRecall, relativeReward, summarize, pointsInWindow, MIN_WINDOW_POINTS } from '../bench/reward.ts';
import { SweepPlanner, seededRng, shuffle, type Measurement } from '../bench/sweep.ts';
import { Sandbox, SandboxFailureError, type CallOutcome, type SandboxFailure } from './sandbox.ts';
import { projectReadPaths } from './sandbox-isolation.ts';
import type { CurvePoint, ModuleName, Stage, Verdict } from './contract.ts';
import { REPO_ROOT, loadBaseline, loadVariant, type LoadedModule } from './modules.ts';
import { buildParamsFor, usesF16 } from './knob-params.ts';
import { f16ToF32Array, f32ToF16Array } from '../index/f16.ts';
import { QueryPool, type QueryBatch } from './query-pool.ts';
import { materialisePrune } from './graph-variant.ts';
import { checkPrunedGraph } from '../index/build.ts';
import type { OpenPayload } from './eval-child.ts';

export const EVAL_CHILD = fileURLToPath(new URL('./eval-child.ts', import.meta.url));

// The graph builder's progress bar and its dependencies (src/index/build.ts imports it).
const GRAPH_PACKAGES = ['cli-progress', 'string-width', 'emoji-regex', 'is-fullwidth-code-point', 'strip-ansi', 'ansi-regex'].map((p) => join(REPO_ROOT, 'node_modules', p));

export interface EvaluateOptions {
  variantDir: string;
  /** Dataset name or path (loadDataset), or a loaded dataset. Default siftsmall-5k. */
  dataset?: string | Dataset;
  dataDir?: string;
  adapter?: { adapter?: string; backend?: string };
  k?: number;
  /** Queries per timed call (each a fresh draw). Default 200. */
  queriesPerCall?: number;
  /** Timed repetitions per sweep point. Default 5 (3 gave a self-vs-self spread of 0.57-1.62 on a loaded 2-core machine). */
  reps?: number;
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
  /** Seed of query draws and measurement order; default random. */
  seed?: number;
  /** A reward above this is re-measured once and the lower one kept (the loop passes 3 x best so far). */
  remeasureAbove?: number;
  /**
   * Best variants of earlier stages (module -> variant folder), applied to both sides: `graph` (its
   * knobs build the index searched when evaluating search or refine) and `search` (its kernels and
   * knobs search when evaluating refine). So the reward is the module's own gain on that pipeline.
   */
  context?: Partial<Record<ModuleName, string>>;
  /** Test hook: the variant child's entry module (default eval-child.ts). */
  childEntry?: string;
  allowNetwork?: boolean;
  memMiB?: number;
  onProgress?: (line: string) => void;
}

const DEFAULTS = {
  k: 10, queriesPerCall: 200, reps: 5, efforts: [2, 4, 6, 8, 10, 16, 32], maxPoints: 10, probeQueries: 32,
  probeEffort: 32, recallFloor: 0.7, compileMs: 180_000, correctnessMs: 120_000, callMs: 60_000,
};

/** A failure the verdict reports (stage, reason); anything else thrown is an internal error. */
class StageFail extends Error {
  readonly stage: Stage;
  constructor(stage: Stage, message: string) {
    super(message);
    this.stage = stage;
  }
}

interface System {
  name: 'baseline' | 'variant';
  mod: LoadedModule;
  sb?: Sandbox;
  adapter?: string;
  cursor: number;
  signature: Map<number, string>;
  /** Mean distance evaluations per probe query, per effort: reported by the child, informational only. */
  evaluations: Map<number, number>;
  reps: Map<number, { recall: number[]; qps: number[] }>;
  rejected: Set<number>;
  fail?: StageFail;
}

// Built once per dataset per process: the loop evaluates many variants on the same data.
const indexCache = new Map<string, Promise<Index>>();

function sharedIndex(ds: Dataset, graphKnobs: Record<string, number>): Promise<Index> {
  const key = `${ds.name}|${ds.source}|${ds.base.n}x${ds.base.dim}|${ds.metric}|${JSON.stringify(graphKnobs)}`;
  let p = indexCache.get(key);
  if (!p) {
    p = buildIndex(ds.base, ds.metric, buildParamsFor(graphKnobs), { quiet: true }).then((r) => r.index);
    indexCache.set(key, p);
    p.catch(() => indexCache.delete(key));
  }
  return p;
}

const sandboxedIndexCache = new Map<string, Promise<Index>>();

/** The index of a graph variant whose prune.ts differs from the baseline's, built by its code in a sandbox child. */
function sandboxedGraphIndex(ds: Dataset, graph: LoadedModule, scratchRoot: string, o: { compileMs: number; memMiB?: number; allowNetwork?: boolean }): Promise<Index> {
  const key = `${ds.name}|${ds.source}|${ds.base.n}x${ds.base.dim}|${ds.metric}|${graph.hash}`;
  let p = sandboxedIndexCache.get(key);
  if (!p) {
    p = (async () => {
      const prune = materialisePrune(graph.sources['prune.ts'] ?? '', scratchRoot, 'context-graph');
      const sb = await Sandbox.start({
        entry: EVAL_CHILD, readPaths: [...projectReadPaths(), ...GRAPH_PACKAGES, prune.dir], scratch: mkdtempSync(join(scratchRoot, 'context-graph-')),
        memMiB: o.memMiB ?? 4096, allowWorkers: true, allowNetwork: o.allowNetwork, timeouts: { startMs: o.compileMs, callMs: o.compileMs },
      });
      try {
        const r = await sb.call<Index>('buildIndex', { knobs: graph.knobs, build: { vectors: ds.base.data, n: ds.base.n, dim: ds.base.dim, metric: ds.metric, pruneModule: prune.url } });
        if (!r.ok) throw new Error(`context graph ${graph.hash.slice(0, 12)} failed to build: ${failureText(r.failure)}`);
        // Data from untrusted code: the same check the child ran, here where it cannot be skipped.
        const g = r.value?.graph;
        if (!g || !(g.neighbors instanceof Uint32Array) || g.n !== ds.base.n || r.value.n !== ds.base.n || r.value.dim !== ds.base.dim) {
          throw new Error(`context graph ${graph.hash.slice(0, 12)}: the built index does not match the dataset (${ds.base.n} x ${ds.base.dim})`);
        }
        checkPrunedGraph(g.neighbors, g.n, g.degree);
        return { ...r.value, vectors: ds.base.data };
      } finally {
        await sb.close();
      }
    })();
    sandboxedIndexCache.set(key, p);
    p.catch(() => sandboxedIndexCache.delete(key));
  }
  return p;
}

function failureText(f: SandboxFailure): string {
  // Dawn's limit warnings say nothing about the variant.
  const err = f.stderr.trim().split('\n').filter((l) => l && !/artificially reduced/.test(l)).slice(-3).join(' | ');
  return `${f.reason}: ${f.message}${f.reason !== 'thrown' && err ? ` (stderr: ${err.slice(0, 600)})` : ''}`;
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function failedVerdict(base: Omit<Verdict, 'status' | 'stage' | 'reason'>, stage: Stage, reason: string): Verdict {
  return { ...base, status: 'failed', stage, reason };
}

export async function evaluateVariant(opts: EvaluateOptions): Promise<Verdict> {
  const first = await evaluateOnce(opts);
  if (first.status === 'ok' && opts.remeasureAbove !== undefined && first.reward !== null && first.reward > opts.remeasureAbove) {
    opts.onProgress?.(`reward ${first.reward.toFixed(3)} above ${opts.remeasureAbove}: re-measuring`);
    const second = await evaluateOnce({ ...opts, seed: undefined });
    const keep = second.status !== 'ok' || (second.reward ?? 0) < first.reward ? second : first;
    return { ...keep, reason: `${keep.reason}; re-measured (rewards ${first.reward.toFixed(3)}, ${second.reward?.toFixed(3) ?? second.status}), the lower kept`, seconds: first.seconds + second.seconds };
  }
  return first;
}

async function evaluateOnce(opts: EvaluateOptions): Promise<Verdict> {
  const t0 = performance.now();
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)), ...opts.timeouts } as typeof DEFAULTS & EvaluateOptions;
  const log = opts.onProgress ?? (() => {});
  const seed = opts.seed ?? randomInt(2 ** 31);
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
  const common = {
    module: variantMod?.module ?? 'search',
    variantHash: variantMod?.hash ?? '',
    dataset: ds.name,
    adapter: '',
    variantAuc: null, baselineAuc: null, reward: null, qpsAt90: null, qpsAt95: null, qpsAt99: null, evaluationsAt95: null,
    variantCurve: [], baselineCurve: [],
  } as Omit<Verdict, 'status' | 'stage' | 'reason' | 'seconds'>;
  const seconds = () => (performance.now() - t0) / 1000;
  if (!variantMod) return { ...failedVerdict({ ...common, seconds: seconds() }, 'load', loadError!) };

  const module = variantMod.module;
  // The query sequence has its own stream: a seed fixes the probe and every batch (queryPoolFor).
  const rng = seededRng(seed + 1);
  const systems: System[] = [
    { name: 'baseline', mod: loadBaseline(module), cursor: 0, signature: new Map(), evaluations: new Map(), reps: new Map(), rejected: new Set() },
    { name: 'variant', mod: variantMod, cursor: 0, signature: new Map(), evaluations: new Map(), reps: new Map(), rejected: new Set() },
  ];
  const [baseline, variant] = systems;
  const pool = queryPoolFor(ds, o.k, seed);
  const probe = pool.batch(0, o.probeQueries);
  let nextQuery = o.probeQueries; // queries [0, probeQueries) are the probe; each system walks the rest once
  const scratchRoot = mkdtempSync(join(tmpdir(), 'crinn-eval-'));
  const n = ds.base.n;
  const k = o.k;

  // An f16 index searches (and refines) rows rounded to f16, so its distances are checked against
  // those rows; recall is always scored against the dataset's own vectors.
  let rounded: VectorSet | undefined;
  const distanceBase = (sys: System): VectorSet => {
    if (!usesF16(module, sys.mod.knobs)) return ds.base;
    rounded ??= { ...ds.base, data: f16ToF32Array(f32ToF16Array(ds.base.data)) };
    return rounded;
  };

  const call = async <T>(sys: System, op: string, payload: unknown, stage: Stage, timeoutMs: number): Promise<{ value: T; ms: number }> => {
    // The baseline is trusted code: a stall there is the machine (a loaded CPU compiling), so it gets more slack.
    const limit = sys.name === 'baseline' ? 3 * timeoutMs : timeoutMs;
    // A system's child runs only during its own calls: stopped in between, it cannot queue work
    // (a timer after its drain) that would run inside the other system's timed window.
    sys.sb!.resume();
    let r: CallOutcome<T>;
    try {
      r = await sys.sb!.call<T>(op, payload, { timeoutMs: limit, stage });
    } finally {
      sys.sb!.pause();
    }
    if (!r.ok) throw new StageFail(stage, `${op}: ${failureText(r.failure)}`);
    return r;
  };

  try {
    // ---- compile: start both children (baseline first or second at random) and build their searchers.
    const ctxGraph = opts.context?.graph && module !== 'graph' ? loadVariant(opts.context.graph) : undefined;
    const graphKnobs = ctxGraph?.knobs ?? loadBaseline('graph').knobs;
    // A best graph variant with its own code builds in a sandbox child; knobs alone build here.
    const ownCode = ctxGraph !== undefined && ctxGraph.sources['prune.ts'] !== loadBaseline('graph').sources['prune.ts'];
    const index = module === 'graph' ? undefined : ownCode ? await sandboxedGraphIndex(ds, ctxGraph!, scratchRoot, o) : await sharedIndex(ds, graphKnobs);
    const searchCtx = opts.context?.search && module === 'refine' ? loadVariant(opts.context.search) : undefined;
    log(`${module}: starting the baseline and the variant in sandboxes`);
    const open = async (sys: System): Promise<void> => {
      const entry = sys.name === 'variant' && opts.childEntry ? opts.childEntry : EVAL_CHILD;
      const scratch = mkdtempSync(join(scratchRoot, `${sys.name}-`));
      // graph: this system's prune.ts, readable by its child, outside the scratch it may write.
      const prune = module === 'graph' ? materialisePrune(sys.mod.sources['prune.ts'] ?? '', scratchRoot, sys.name) : undefined;
      try {
        sys.sb = await Sandbox.start({
          entry,
          readPaths: [...projectReadPaths(), ...(prune ? [...GRAPH_PACKAGES, prune.dir] : []), ...(entry !== EVAL_CHILD ? [dirname(entry)] : [])],
          scratch,
          memMiB: o.memMiB ?? 4096,
          allowWorkers: module === 'graph',
          allowNetwork: opts.allowNetwork,
          timeouts: { startMs: o.compileMs, callMs: o.callMs },
        });
      } catch (e) {
        if (e instanceof SandboxFailureError) throw new StageFail('compile', `sandbox start: ${failureText(e.failure)}`);
        throw e;
      }
      const payload: OpenPayload = {
        module, sources: sys.mod.sources, knobs: sys.mod.knobs, k, adapter: opts.adapter,
        ...(searchCtx ? { searchContext: { sources: searchCtx.sources, knobs: searchCtx.knobs } } : {}),
        ...(index ? { index } : { build: { vectors: ds.base.data, n, dim: ds.base.dim, metric: ds.metric, pruneModule: prune!.url } }),
      };
      const r = await call<{ adapter: string }>(sys, 'open', payload, 'compile', o.compileMs);
      sys.adapter = String(r.value?.adapter ?? '');
    };
    for (const sys of rng() < 0.5 ? [baseline, variant] : [variant, baseline]) {
      try {
        await open(sys);
      } catch (e) {
        if (!(e instanceof StageFail)) throw e;
        if (sys.name === 'baseline') throw new Error(`baseline ${module} failed to ${e.stage}: ${e.message}`);
        return failedVerdict({ ...common, adapter: baseline.adapter ?? '', seconds: seconds() }, e.stage, e.message);
      }
    }
    common.adapter = baseline.adapter ?? '';

    // ---- correctness: the probe at a generous effort; ids valid, recall above the floor.
    const probeRecall = async (sys: System, effort: number, stage: Stage, timeoutMs: number): Promise<{ recall: number; sig: string }> => {
      const r = await call<{ ids: unknown; distances: unknown }>(sys, 'search', { queries: probe.queries.data, dim: ds.base.dim, k, effort }, stage, timeoutMs);
      const ids = checkResults(r.value, probe.queries, k, distanceBase(sys), ds.metric);
      const recall = recallAtK({ ids, nq: probe.queries.n, k }, ds.base, probe.queries, ds.metric, probe.kth, k).recall;
      return { recall, sig: createHash('sha256').update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)).digest('hex') };
    };
    for (const sys of rng() < 0.5 ? [baseline, variant] : [variant, baseline]) {
      try {
        const { recall } = await probeRecall(sys, o.probeEffort, 'correctness', o.correctnessMs);
        if (recall < o.recallFloor) throw new StageFail('correctness', `recall ${recall.toFixed(3)} at ${'itopk'} ${o.probeEffort} is below the floor ${o.recallFloor}`);
      } catch (e) {
        if (!(e instanceof StageFail)) throw e;
        if (sys.name === 'baseline') throw new Error(`baseline ${module} failed ${e.stage}: ${e.message}`);
        return failedVerdict({ ...common, seconds: seconds() }, e.stage, e.message);
      }
    }

    // ---- timing: both sweeps planned by the bench's SweepPlanner; each round every system measures
    // its next effort, interleaved rep by rep in a fresh random order, so load drift hits both alike.
    log(`${module}: timing sweeps (${o.reps} reps x ${o.queriesPerCall} fresh queries per point)`);
    const planners = systems.map(() => new SweepPlanner(o.efforts, { maxPoints: o.maxPoints, minEffort: 1, maxEffort: 512, integer: true }));
    type Acc = { sys: System; planner: SweepPlanner; effort: number; recall: number[]; qps: number[]; secs: number[]; perQuery: number[] };
    const rep = async (a: Acc): Promise<void> => {
      const { sys, effort } = a;
      // Each system takes the next unseen batch; both walk the same sequence.
      const b: QueryBatch = pool.batch(nextQuery + sys.cursor, o.queriesPerCall);
      sys.cursor += o.queriesPerCall;
      // Both drains are timed: whatever is still queued when the system is continued (work it
      // deferred past its last call) is its own, and so is what it leaves queued at return.
      const pre = await call(sys, 'drain', null, 'timing', o.callMs);
      const s = await call<{ ids: unknown; distances: unknown }>(sys, 'search', { queries: b.queries.data, dim: ds.base.dim, k, effort }, 'timing', o.callMs);
      const d = await call(sys, 'drain', null, 'timing', o.callMs);
      const ms = pre.ms + s.ms + d.ms;
      const ids = checkResults(s.value, b.queries, k, distanceBase(sys), ds.metric);
      const rr = recallAtK({ ids, nq: b.queries.n, k }, ds.base, b.queries, ds.metric, b.kth, k);
      a.recall.push(rr.recall);
      a.perQuery.push(...rr.perQuery);
      a.qps.push(b.queries.n / (ms / 1000));
      a.secs.push(ms / 1000);
    };
    const finish = (a: Acc): Measurement => {
      const { sys, effort, recall, qps, perQuery } = a;
      sys.reps.set(effort, { recall, qps });
      // Sampling noise of a rep's mean recall; a rep further than 4 sigma (+0.02) from the mean rejects the point.
      const mean = recall.reduce((x, y) => x + y, 0) / recall.length;
      const pm = perQuery.reduce((x, y) => x + y, 0) / perQuery.length;
      const sd = Math.sqrt(perQuery.reduce((x, y) => x + (y - pm) ** 2, 0) / Math.max(1, perQuery.length - 1));
      const tol = 0.02 + (4 * sd) / Math.sqrt(o.queriesPerCall);
      if (recall.some((x) => Math.abs(x - mean) > tol)) sys.rejected.add(effort);
      return { recall: mean, qps: median(qps), seconds: a.secs };
    };
    const guarded = async (sys: System, f: () => Promise<void>): Promise<boolean> => {
      try {
        await f();
        return true;
      } catch (e) {
        if (sys.name === 'baseline') throw new Error(`baseline ${module} failed ${e instanceof StageFail ? e.stage : 'timing'}: ${oneLine(e)}`);
        sys.fail = e instanceof StageFail ? e : new StageFail('timing', oneLine(e));
        return false;
      }
    };
    sweep: for (;;) {
      const round: Acc[] = [];
      systems.forEach((sys, i) => {
        const effort = planners[i].next();
        if (effort !== null) round.push({ sys, planner: planners[i], effort, recall: [], qps: [], secs: [], perQuery: [] });
      });
      if (round.length === 0) break;
      // Untimed: compiles this effort's kernel, warms it, and fingerprints the configuration; then
      // the work per query, from the counting kernel (its own pipeline, so the timed one stays warm).
      for (const a of shuffle([...round], rng)) {
        const ok = await guarded(a.sys, async () => {
          a.sys.signature.set(a.effort, (await probeRecall(a.sys, a.effort, 'timing', o.compileMs)).sig);
          const c = await call<{ evaluations?: unknown }>(a.sys, 'search', { queries: probe.queries.data, dim: ds.base.dim, k, effort: a.effort, countEvaluations: true }, 'timing', o.compileMs);
          const e = c.value?.evaluations;
          if (typeof e === 'number' && Number.isFinite(e) && e >= 0) a.sys.evaluations.set(a.effort, e);
        });
        if (!ok) break sweep;
      }
      for (let r = 0; r < o.reps; r++) {
        for (const a of shuffle([...round], rng)) if (!(await guarded(a.sys, () => rep(a)))) break sweep;
      }
      for (const a of round) a.planner.record(a.effort, finish(a));
    }
    if (baseline.fail) throw new Error(`baseline ${module} failed ${baseline.fail.stage}: ${baseline.fail.message}`);
    const curves = systems.map((s) => mergedCurve(s));
    if (variant.fail) return failedVerdict({ ...common, variantCurve: curves[1], baselineCurve: curves[0], seconds: seconds() }, variant.fail.stage, variant.fail.message);
    const measured = variant.reps.size;
    if (variant.rejected.size * 2 > measured) {
      return failedVerdict({ ...common, variantCurve: curves[1], baselineCurve: curves[0], seconds: seconds() }, 'timing', `repetitions disagree beyond sampling noise at ${variant.rejected.size} of ${measured} efforts (${[...variant.rejected].join(', ')})`);
    }

    // ---- reward
    const [bs, vs] = curves.map((c) => summarize(c));
    const reward = relativeReward(vs.auc, bs.auc);
    const notes = [`reward ${reward.toFixed(3)} = AUC ${vs.auc.toFixed(1)} / ${bs.auc.toFixed(1)}`];
    for (const [s, c] of [[variant, curves[1]], [baseline, curves[0]]] as const) {
      if (s.rejected.size) notes.push(`${s.name}: ${s.rejected.size} point(s) rejected (reps disagree)`);
      if (c.length < s.reps.size - s.rejected.size) notes.push(`${s.name}: ${s.reps.size - s.rejected.size - c.length} identical configuration(s) merged`);
      const w = pointsInWindow(c);
      if (w < MIN_WINDOW_POINTS) notes.push(`${s.name}: only ${w} point(s) in the recall window`);
    }
    return {
      ...common, status: 'ok', stage: 'reward', reason: notes.join('; '),
      variantAuc: vs.auc, baselineAuc: bs.auc, reward, qpsAt90: vs.qpsAt90, qpsAt95: vs.qpsAt95, qpsAt99: vs.qpsAt99,
      // Reported by the variant's own counter, so informational: never part of the reward.
      evaluationsAt95: evaluationsAtRecall(curves[1], 0.95),
      variantCurve: curves[1], baselineCurve: curves[0], seconds: seconds(),
    };
  } finally {
    await Promise.all(systems.map((s) => s.sb?.close()));
    rmSync(scratchRoot, { recursive: true, force: true });
  }
}

/**
 * A system's curve: rejected points dropped; points with identical probe answers merged into one
 * (lowest effort, mean recall and median QPS over all their reps), so duplicate configurations
 * cannot offer the frontier the best of several noisy draws. `evaluations`: the probe's mean work
 * per query (the mean over merged efforts), where the child reported it.
 */
function mergedCurve(sys: System): CurvePoint[] {
  const groups = new Map<string, { effort: number; recall: number[]; qps: number[]; evaluations: number[] }>();
  for (const [effort, r] of [...sys.reps.entries()].sort((a, b) => a[0] - b[0])) {
    if (sys.rejected.has(effort)) continue;
    const sig = sys.signature.get(effort) ?? String(effort);
    const g = groups.get(sig) ?? { effort, recall: [], qps: [], evaluations: [] };
    g.recall.push(...r.recall);
    g.qps.push(...r.qps);
    const e = sys.evaluations.get(effort);
    if (e !== undefined) g.evaluations.push(e);
    groups.set(sig, g);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [...groups.values()].map((g) => ({ effort: g.effort, recall: mean(g.recall), qps: median(g.qps), ...(g.evaluations.length ? { evaluations: mean(g.evaluations) } : {}) }));
}

/** The evaluation's query sequence (probe first, then the timed batches) for a seed; tests rebuild it. */
export function queryPoolFor(ds: Dataset, k: number, seed: number): QueryPool {
  return new QueryPool(ds.base, ds.queries, ds.metric, k, seededRng(seed));
}
