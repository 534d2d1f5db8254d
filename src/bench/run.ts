/**
 * The bench driver: ground truth, builds, then effort sweeps of every system interleaved in a
 * seeded random order (so machine drift hits all systems alike), each point the median QPS of
 * `reps` timed batched search calls after a warm-up, recall recomputed here from the returned ids.
 * The output is a schema-validated BenchResult. A system that fails (missing package, build or
 * search error) is recorded with its error; the others still run.
 */
import os from 'node:os';
import { UserError, oneLine } from '../errors.ts';
import type { Dataset, Neighbors } from '../data/types.ts';
import { datasetFingerprint } from '../data/fingerprint.ts';
import { computeGroundTruth } from '../data/groundtruth.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { AdapterDescription } from '../gpu/adapters.ts';
import { VERSION } from '../version.ts';
import { groundTruthKthDistances, recallAtK } from './recall.ts';
import { DEFAULT_WINDOW, evaluationsAtRecall, pointsInWindow, summarize } from './reward.ts';
import { measureMedian } from './stats.ts';
import { SweepPlanner, seededRng, shuffle, type Measurement, type SweepPoint } from './sweep.ts';
import { parseBenchResult, type AdapterInfo, type BenchResult, type BenchSystem as SystemResult } from './schema.ts';
import { createSystem, systemEntry } from './systems.ts';
import { measureBatched } from './batches.ts';
import { trackRss, type RssWindow } from './memory.ts';
import { packageVersion, type BenchSystem, type SystemKind, type SystemOptions } from './bench-system.ts';

export type BenchEvent =
  | { type: 'groundtruth'; state: 'start' | 'done'; cached?: boolean; seconds?: number }
  | { type: 'build'; system: string; state: 'start' | 'done' | 'error'; seconds?: number; error?: string }
  | { type: 'sweep'; state: 'start'; systems: string[]; plannedPoints: number }
  | { type: 'point'; system: string; effort: number; recall: number; qps: number; index: number; plannedPoints: number }
  | { type: 'error'; system: string; error: string };

export interface RunBenchOptions {
  dataset: Dataset;
  /** Registered system names, or ready-made systems (tests, the evolution loop). */
  systems: readonly (string | BenchSystem)[];
  /** Per-system factory options, by system name. */
  systemOptions?: Record<string, SystemOptions>;
  k?: number;
  window?: { lo: number; hi: number };
  /** Timed repetitions per point (>= 3), after one warm-up call. */
  reps?: number;
  /** Seeds the measurement order (and build seeds where a library takes one). */
  seed?: number;
  /** Sweep refinement: points wanted inside the window, and a cap per system. */
  minInWindow?: number;
  maxPoints?: number;
  onProgress?: (ev: BenchEvent) => void;
  /**
   * Opens a NEW GPU context per call (e.g. `() => openFromOptions(globals)`); runBench destroys
   * every context it opens. Called at most twice: ground truth (only on a cache miss) and GPU systems.
   */
  ctxProvider?: () => Promise<GpuContext>;
  /** Ground-truth cache folder (default $CRINN_CACHE_DIR or ~/.cache/crinn). */
  cacheDir?: string;
  /**
   * Batch sizes (runBenchBatches): one sweep per size over the same builds, each call answering at
   * most that many queries (batches.ts). Absent: one call per repetition with all the queries.
   */
  batches?: readonly number[];
}

interface Entry {
  name: string;
  kind: SystemKind;
  system?: BenchSystem;
  build: { seconds: number; params: Record<string, unknown> };
  planner?: SweepPlanner;
  error?: string;
}

function adapterInfo(a: AdapterDescription): AdapterInfo {
  return {
    name: a.name,
    vendor: a.vendor,
    architecture: a.architecture,
    backend: a.backend,
    type: a.type,
    description: a.description,
    limits: { ...a.limits },
    features: [...a.features],
  };
}

/** One context shared by all GPU systems, opened on first use. */
function lazyGpu(open: () => Promise<GpuContext>) {
  let pending: Promise<GpuContext> | undefined;
  return {
    get: () => (pending ??= open()),
    async destroy() {
      const p = pending;
      pending = undefined;
      if (p) (await p.catch(() => undefined))?.destroy();
    },
  };
}

async function noGpu(): Promise<GpuContext> {
  throw new Error('no GPU provider given to runBench (ctxProvider)');
}

/** Ground truth: the dataset's own when deep enough, else exact kNN on the GPU (cached by content). */
async function groundTruth(o: RunBenchOptions, k: number, open: () => Promise<GpuContext>): Promise<Neighbors> {
  const ds = o.dataset;
  if (ds.groundTruth && ds.groundTruth.k >= k) return ds.groundTruth;
  o.onProgress?.({ type: 'groundtruth', state: 'start' });
  const r = await computeGroundTruth({ base: ds.base, queries: ds.queries, k, metric: ds.metric, cacheDir: o.cacheDir, open });
  o.onProgress?.({ type: 'groundtruth', state: 'done', cached: r.cached, seconds: r.seconds });
  return r.neighbors;
}

/** A sweep planner in the system's own effort range (one fixed point when it has no efforts). */
function plannerFor(s: BenchSystem, k: number, window: { lo: number; hi: number }, o: RunBenchOptions): SweepPlanner {
  const fixed = s.efforts.length === 0;
  const minEffort = fixed ? s.minEffort : Math.min(s.maxEffort, s.effortAtLeastK ? Math.max(k, s.minEffort) : s.minEffort);
  const maxEffort = fixed ? s.minEffort : s.maxEffort;
  return new SweepPlanner(fixed ? [minEffort] : s.efforts, {
    lo: window.lo,
    hi: window.hi,
    minInWindow: o.minInWindow ?? 3,
    maxPoints: o.maxPoints ?? 40,
    minEffort,
    maxEffort,
    integer: true,
  });
}

/** One result: all the queries in one call per repetition (or `o.batches[0]` per call). */
export async function runBench(o: RunBenchOptions): Promise<BenchResult> {
  return (await runBenchBatches({ ...o, batches: o.batches?.slice(0, 1) }))[0];
}

/** One result per batch size in `o.batches` (builds shared, a fresh sweep per size), in that order. */
export async function runBenchBatches(o: RunBenchOptions): Promise<BenchResult[]> {
  const ds = o.dataset;
  const k = o.k ?? 10;
  const window = o.window ?? { ...DEFAULT_WINDOW };
  const reps = o.reps ?? 3;
  const seed = o.seed ?? 1;
  const emit = o.onProgress ?? (() => {});
  if (!(Number.isInteger(reps) && reps >= 3)) throw new UserError(`bench: reps must be an integer >= 3, got ${reps}`);
  if (!(Number.isInteger(k) && k >= 1 && k <= ds.base.n)) throw new UserError(`bench: k must be an integer in 1..${ds.base.n} (the base size), got ${k}`);
  // Unknown names fail before any work is done.
  const requested = o.systems.map((s) => (typeof s === 'string' ? { name: s, kind: systemEntry(s).kind } : { name: s.name, kind: s.kind, system: s }));
  const dup = requested.find((r, i) => requested.findIndex((x) => x.name === r.name) !== i);
  if (dup) throw new UserError(`system '${dup.name}' is listed twice`);

  let adapter: AdapterDescription | undefined;
  const provider = o.ctxProvider ?? noGpu;
  const openTracked = async () => {
    const ctx = await provider();
    adapter = ctx.adapter;
    return ctx;
  };
  const gpu = lazyGpu(openTracked);
  const entries: Entry[] = requested.map((r) => ({ ...r, build: { seconds: 0, params: {} } }));
  const batches: (number | undefined)[] = o.batches && o.batches.length ? [...o.batches] : [undefined];
  for (const b of batches) if (b !== undefined && !(Number.isInteger(b) && b >= 1)) throw new UserError(`bench: batch sizes must be positive integers, got ${b}`);
  const searchRss = new Map<string, RssWindow>();
  const swept: { batch: number | undefined; points: Map<string, SweepPoint[]>; errors: Map<string, string> }[] = [];
  try {
    const gt = await groundTruth(o, k, openTracked);
    const kth = groundTruthKthDistances(gt, ds.base, ds.queries, ds.metric, k);

    for (const e of entries) {
      emit({ type: 'build', system: e.name, state: 'start' });
      try {
        e.system ??= await createSystem(e.name, { gpu: gpu.get }, { seed, ...o.systemOptions?.[e.name] });
        const t0 = performance.now();
        const rss = trackRss();
        const b = await e.system.build(ds);
        // The system's own figure is the build; the harness's wall clock and the host memory are kept beside it.
        e.build = { seconds: b.seconds, params: { ...b.params, wallSeconds: (performance.now() - t0) / 1000, rss: rss.stop() } };
        e.planner = plannerFor(e.system, k, window, o);
        emit({ type: 'build', system: e.name, state: 'done', seconds: e.build.seconds });
      } catch (err) {
        e.error = `build: ${oneLine(err)}`;
        emit({ type: 'build', system: e.name, state: 'error', error: e.error });
      }
    }

    const measure = async (s: BenchSystem, effort: number, batch: number | undefined): Promise<Measurement> => {
      let ids: Int32Array | undefined;
      let latencyMs: Measurement['latencyMs'];
      let t: { median: number; seconds: number[] };
      if (batch === undefined) {
        t = await measureMedian(async () => {
          ids = await s.search(ds.queries, k, effort);
        }, { reps, warmup: 1 });
      } else {
        const b = await measureBatched((q) => s.search(q, k, effort), ds.queries, k, batch, { reps, warmup: 1 });
        ({ ids, latencyMs } = b);
        t = b;
      }
      if (!(ids instanceof Int32Array) || ids.length !== ds.queries.n * k) {
        throw new Error(`search returned ${ids instanceof Int32Array ? ids.length : typeof ids} ids, expected an Int32Array of ${ds.queries.n} x ${k}`);
      }
      const { recall } = recallAtK({ ids, nq: ds.queries.n, k }, ds.base, ds.queries, ds.metric, kth, k);
      // Counted outside the timed calls.
      const evaluations = s.evaluations ? await s.evaluations(ds.queries, k, effort) : undefined;
      return { recall, qps: ds.queries.n / t.median, seconds: t.seconds, ...(evaluations !== undefined ? { evaluations } : {}), ...(latencyMs ? { latencyMs } : {}) };
    };

    for (const batch of batches) {
      const order: { system: string; effort: number }[] = [];
      for (const e of entries) if (e.system && !e.error) e.planner = plannerFor(e.system, k, window, o);

      // Interleaved sweeps: like sweep.ts runInterleavedSweeps, but each system keeps its own
      // effort range (a fixed-point system must not be "raised", itopk has its own ceiling).
      const rng = seededRng(seed);
      const live = entries.filter((e) => e.planner && !e.error);
      let planned = live.reduce((a, e) => a + Math.max(1, e.system!.efforts.length), 0);
      emit({ type: 'sweep', state: 'start', systems: live.map((e) => e.name), plannedPoints: planned });
      for (;;) {
        const round = live.filter((e) => !e.error).map((e) => ({ e, effort: e.planner!.next() })).filter((x) => x.effort !== null);
        if (round.length === 0) break;
        shuffle(round, rng);
        for (const { e, effort } of round) {
          const eff = effort as number;
          order.push({ system: e.name, effort: eff });
          planned = Math.max(planned, order.length);
          try {
            const rss = trackRss();
            const m = await measure(e.system!, eff, batch);
            const w = rss.stop();
            searchRss.set(e.name, { startMiB: Math.min(w.startMiB, searchRss.get(e.name)?.startMiB ?? Infinity), peakMiB: Math.max(w.peakMiB, searchRss.get(e.name)?.peakMiB ?? 0) });
            const p: SweepPoint = e.planner!.record(eff, m);
            emit({ type: 'point', system: e.name, effort: eff, recall: p.recall, qps: p.qps, index: order.length, plannedPoints: planned });
          } catch (err) {
            e.error = `effort ${eff}${batch === undefined ? '' : ` (batch ${batch})`}: ${oneLine(err)}`;
            emit({ type: 'error', system: e.name, error: e.error });
          }
        }
      }
      swept.push({ batch, points: new Map(entries.map((e) => [e.name, e.planner?.points() ?? []])), errors: new Map(entries.filter((e) => e.error).map((e) => [e.name, e.error!])) });
      // A system that failed at one batch size is not run at the next; its build error stays.
    }
  } finally {
    for (const e of entries) await e.system?.close().catch(() => {});
    await gpu.destroy();
  }

  return swept.map(({ batch, points: byName, errors }) => resultOf(batch, entries.map((e) => ({ ...e, error: errors.get(e.name) ?? (e.planner ? undefined : e.error) })), byName));

  function resultOf(batch: number | undefined, entries: Entry[], byName: Map<string, SweepPoint[]>): BenchResult {
    const systems: SystemResult[] = entries.map((e) => {
      const points = byName.get(e.name) ?? [];
      return {
        name: e.name,
        kind: e.system?.kind ?? e.kind,
        params: { ...(e.system?.params ?? {}), ...(searchRss.has(e.name) ? { searchRss: searchRss.get(e.name) } : {}), ...(e.system && e.system.efforts.length > 0 ? { minEffort: e.system.minEffort, maxEffort: e.system.maxEffort } : {}) },
        build: e.build,
        points,
        summary: { ...summarize(points, window.lo, window.hi), ...(points.some((p) => p.evaluations !== undefined) ? { evaluationsAt95: evaluationsAtRecall(points, 0.95) } : {}) },
        reachedWindow: points.some((p) => p.recall >= window.lo),
        inWindow: pointsInWindow(points, window.lo, window.hi),
        ...(e.error !== undefined ? { error: e.error } : {}),
      };
    });
    const versions: Record<string, string> = { node: process.version, crinn: VERSION };
    const webgpu = packageVersion('webgpu');
    if (webgpu) versions.webgpu = webgpu;
    for (const e of entries) Object.assign(versions, e.system?.versions ?? {});

    const result: BenchResult = {
      schemaVersion: 1,
      createdAt: new Date().toISOString(),
      tool: { name: 'crinn-webgpu', version: VERSION },
      machine: { cpus: os.availableParallelism(), platform: `${process.platform}-${process.arch} ${os.cpus()[0]?.model ?? ''}`.trim(), node: process.version },
      dataset: { name: ds.name, fingerprint: datasetFingerprint(ds), n: ds.base.n, dim: ds.base.dim, nq: ds.queries.n, metric: ds.metric, k },
      adapter: adapter ? adapterInfo(adapter) : null,
      systems,
      seeds: { order: seed, build: seed },
      versions,
      window: { lo: window.lo, hi: window.hi },
      k,
      ...(batch !== undefined ? { batch } : {}),
    };
    return parseBenchResult(result, 'bench result');
  }
}
