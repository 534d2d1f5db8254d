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
import { filteredExactKnn } from '../data/filtered-knn.ts';
import { passesFilter } from '../data/filter.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { AdapterDescription } from '../gpu/adapters.ts';
import { VERSION } from '../version.ts';
import { groundTruthKthDistances, recallAtK } from './recall.ts';
import { DEFAULT_WINDOW, evaluationsAtRecall, pointsInWindow, summarize } from './reward.ts';
import { measureMedian } from './stats.ts';
import { SweepPlanner, seededRng, sweepInterleaved, type Measurement, type SweepPoint } from './sweep.ts';
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
  let opened: GpuContext | undefined;
  return {
    get: () =>
      (pending ??= open().then((ctx) => {
        opened = ctx;
        return ctx;
      })),
    /** The context once open, else undefined (a CPU-only run never opens one). */
    current: () => opened,
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
  if (ds.filter) return filteredTruth(o, k, open);
  if (ds.groundTruth && ds.groundTruth.k >= k) return ds.groundTruth;
  o.onProgress?.({ type: 'groundtruth', state: 'start' });
  const r = await computeGroundTruth({ base: ds.base, queries: ds.queries, k, metric: ds.metric, cacheDir: o.cacheDir, open });
  o.onProgress?.({ type: 'groundtruth', state: 'done', cached: r.cached, seconds: r.seconds });
  return r.neighbors;
}

/** Under a filter: the exact top-k among each query's passing vectors, on the GPU (not cached: filters are per run). */
async function filteredTruth(o: RunBenchOptions, k: number, open: () => Promise<GpuContext>): Promise<Neighbors> {
  const ds = o.dataset;
  const f = ds.filter!;
  o.onProgress?.({ type: 'groundtruth', state: 'start' });
  const t0 = performance.now();
  const ctx = await open();
  try {
    const gt = await filteredExactKnn(ctx, ds.base, ds.queries, k, ds.metric, f.filters, f.labels);
    const short = Array.from({ length: gt.nq }, (_, q) => q).find((q) => gt.ids[q * k + k - 1] < 0);
    if (short !== undefined) throw new UserError(`${ds.name}: query ${short}'s filter passes fewer than k = ${k} vectors; recall@${k} needs at least k`);
    o.onProgress?.({ type: 'groundtruth', state: 'done', cached: false, seconds: (performance.now() - t0) / 1000 });
    return gt;
  } finally {
    ctx.destroy();
  }
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

/** What the steps of a run share: the options with defaults filled in. */
interface Run {
  o: RunBenchOptions;
  ds: Dataset;
  k: number;
  window: { lo: number; hi: number };
  reps: number;
  seed: number;
  emit: (ev: BenchEvent) => void;
  /** Peak host memory of each system's timed calls (over every batch size). */
  searchRss: Map<string, RssWindow>;
  /** Peak device memory (the project's GPU buffers) of each GPU system's timed calls. */
  searchDevice: Map<string, number>;
  /** The shared GPU context, when a system has opened it. */
  gpuNow: () => GpuContext | undefined;
}

/** One result: all the queries in one call per repetition (or `o.batches[0]` per call). */
export async function runBench(o: RunBenchOptions): Promise<BenchResult> {
  return (await runBenchBatches({ ...o, batches: o.batches?.slice(0, 1) }))[0];
}

/** One result per batch size in `o.batches` (builds shared, a fresh sweep per size), in that order. */
export async function runBenchBatches(o: RunBenchOptions): Promise<BenchResult[]> {
  const ds = o.dataset;
  const run: Run = { o, ds, k: o.k ?? 10, window: o.window ?? { ...DEFAULT_WINDOW }, reps: o.reps ?? 3, seed: o.seed ?? 1, emit: o.onProgress ?? (() => {}), searchRss: new Map(), searchDevice: new Map(), gpuNow: () => undefined };
  const { k, reps } = run;
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
  run.gpuNow = gpu.current;
  const entries: Entry[] = requested.map((r) => ({ ...r, build: { seconds: 0, params: {} } }));
  const batches: (number | undefined)[] = o.batches && o.batches.length ? [...o.batches] : [undefined];
  for (const b of batches) if (b !== undefined && !(Number.isInteger(b) && b >= 1)) throw new UserError(`bench: batch sizes must be positive integers, got ${b}`);
  const swept: { batch: number | undefined; points: Map<string, SweepPoint[]>; errors: Map<string, string> }[] = [];
  try {
    const gt = await groundTruth(o, k, openTracked);
    const kth = groundTruthKthDistances(gt, ds.base, ds.queries, ds.metric, k);
    await buildSystems(run, entries, gpu.get);
    for (const batch of batches) {
      for (const e of entries) if (e.system && !e.error) e.planner = plannerFor(e.system, k, run.window, o);
      await sweepSystems(run, entries, kth, batch);
      swept.push({ batch, points: new Map(entries.map((e) => [e.name, e.planner?.points() ?? []])), errors: new Map(entries.filter((e) => e.error).map((e) => [e.name, e.error!])) });
      // A system that failed at one batch size is not run at the next; its build error stays.
    }
  } finally {
    for (const e of entries) await e.system?.close().catch(() => {});
    await gpu.destroy();
  }
  return swept.map(({ batch, points, errors }) => benchResult(run, entries.map((e) => ({ ...e, error: errors.get(e.name) ?? (e.planner ? undefined : e.error) })), points, batch, adapter));
}

/** Builds every system in turn; one that fails is recorded with its error and left out of the sweep. */
async function buildSystems(run: Run, entries: Entry[], gpu: () => Promise<GpuContext>): Promise<void> {
  const { emit, seed, o } = run;
  for (const e of entries) {
    emit({ type: 'build', system: e.name, state: 'start' });
    try {
      e.system ??= await createSystem(e.name, { gpu }, { seed, ...o.systemOptions?.[e.name] });
      const t0 = performance.now();
      if (run.ds.filter && !e.system.filters) throw new Error(`${e.name} has no filtered search`);
      const rss = trackRss();
      const deviceBefore = run.gpuNow()?.memory.liveBytes ?? 0;
      const b = await e.system.build(run.ds);
      // What the index keeps on the device: the buffers it made and still holds after its build.
      const deviceAfter = run.gpuNow()?.memory.liveBytes;
      const deviceIndexBytes = deviceAfter !== undefined && (e.system.kind === 'gpu' || deviceAfter > deviceBefore) ? { deviceIndexBytes: deviceAfter - deviceBefore } : {};
      // The system's own figure is the build; the harness's wall clock and the host memory are kept beside it.
      e.build = { seconds: b.seconds, params: { ...b.params, wallSeconds: (performance.now() - t0) / 1000, rss: rss.stop(), ...deviceIndexBytes } };
      e.planner = plannerFor(e.system, run.k, run.window, o);
      emit({ type: 'build', system: e.name, state: 'done', seconds: e.build.seconds });
    } catch (err) {
      e.error = `build: ${oneLine(err)}`;
      emit({ type: 'build', system: e.name, state: 'error', error: e.error });
    }
  }
}

/** One point: the median of `reps` timed calls after a warm-up, recall recomputed here from the ids. */
async function measurePoint(run: Run, s: BenchSystem, effort: number, kth: Float32Array, batch: number | undefined): Promise<Measurement> {
  const { ds, k } = run;
  let ids: Int32Array | undefined;
  let latencyMs: Measurement['latencyMs'];
  let t: { median: number; seconds: number[] };
  if (batch === undefined) {
    t = await measureMedian(async () => {
      ids = await s.search(ds.queries, k, effort, ds.filter);
    }, { reps: run.reps, warmup: 1 });
  } else {
    if (ds.filter) throw new UserError('bench: batch sizes and a filter do not combine (the filter is per query of the whole set)');
    const b = await measureBatched((q) => s.search(q, k, effort), ds.queries, k, batch, { reps: run.reps, warmup: 1 });
    ({ ids, latencyMs } = b);
    t = b;
  }
  if (!(ids instanceof Int32Array) || ids.length !== ds.queries.n * k) {
    throw new Error(`search returned ${ids instanceof Int32Array ? ids.length : typeof ids} ids, expected an Int32Array of ${ds.queries.n} x ${k}`);
  }
  const f = ds.filter;
  const accept = f ? (q: number, id: number) => passesFilter(f.filters[q], f.labels, id) : undefined;
  const { recall } = recallAtK({ ids, nq: ds.queries.n, k }, ds.base, ds.queries, ds.metric, kth, k, accept);
  // Counted outside the timed calls (by the unfiltered CPU reference: not under a filter).
  const evaluations = s.evaluations && !f ? await s.evaluations(ds.queries, k, effort) : undefined;
  const bytesRead = s.bytesRead && !f ? await s.bytesRead(ds.queries, k, effort) : undefined;
  return { recall, qps: ds.queries.n / t.median, seconds: t.seconds, ...(evaluations !== undefined ? { evaluations } : {}), ...(bytesRead !== undefined ? { bytesRead } : {}), ...(latencyMs ? { latencyMs } : {}) };
}

/** The built systems' sweeps, interleaved by the one sweep driver; a system whose search throws stops alone. */
async function sweepSystems(run: Run, entries: Entry[], kth: Float32Array, batch: number | undefined): Promise<void> {
  const { emit } = run;
  // Each system keeps its own effort range (a fixed-point system is never raised; itopk has its own ceiling).
  const live = entries.filter((e): e is Entry & Required<Pick<Entry, 'system' | 'planner'>> => e.planner !== undefined && !e.error);
  let measured = 0;
  let planned = live.reduce((a, e) => a + Math.max(1, e.system.efforts.length), 0);
  emit({ type: 'sweep', state: 'start', systems: live.map((e) => e.name), plannedPoints: planned });
  await sweepInterleaved(live, {
    rng: seededRng(run.seed),
    measure: async ({ lane, effort }) => {
      measured++;
      planned = Math.max(planned, measured);
      const rss = trackRss();
      const ctx = lane.build.params.deviceIndexBytes !== undefined ? run.gpuNow() : undefined;
      const device = ctx?.memory.window();
      try {
        return await measurePoint(run, lane.system, effort, kth, batch);
      } finally {
        if (device) run.searchDevice.set(lane.name, Math.max(device.stop().peakBytes, run.searchDevice.get(lane.name) ?? 0));
        const w = rss.stop();
        const was = run.searchRss.get(lane.name);
        run.searchRss.set(lane.name, { startMiB: Math.min(w.startMiB, was?.startMiB ?? Infinity), peakMiB: Math.max(w.peakMiB, was?.peakMiB ?? 0) });
      }
    },
    onPoint: (p, { lane }) => emit({ type: 'point', system: lane.name, effort: p.effort, recall: p.recall, qps: p.qps, index: measured, plannedPoints: planned }),
    onError: (_, { lane }) => {
      if (batch !== undefined) lane.error = `${lane.error} (batch ${batch})`;
      emit({ type: 'error', system: lane.name, error: lane.error! });
    },
  });
}

/** The schema-checked result: every system's points and summary, the machine, adapter and versions. */
function benchResult(run: Run, entries: Entry[], byName: Map<string, SweepPoint[]>, batch: number | undefined, adapter: AdapterDescription | undefined): BenchResult {
  const { ds, k, window, seed } = run;
  const systems: SystemResult[] = entries.map((e) => {
    const points = byName.get(e.name) ?? [];
    return {
      name: e.name,
      kind: e.system?.kind ?? e.kind,
      params: { ...(e.system?.params ?? {}), ...(run.searchRss.has(e.name) ? { searchRss: run.searchRss.get(e.name) } : {}), ...(run.searchDevice.has(e.name) ? { searchDevicePeakBytes: run.searchDevice.get(e.name) } : {}), ...(e.system && e.system.efforts.length > 0 ? { minEffort: e.system.minEffort, maxEffort: e.system.maxEffort } : {}) },
      build: e.build,
      points,
      summary: {
        ...summarize(points, window.lo, window.hi),
        ...(points.some((p) => p.evaluations !== undefined) ? { evaluationsAt95: evaluationsAtRecall(points, 0.95) } : {}),
        ...(points.some((p) => p.bytesRead !== undefined) ? { bytesReadAt95: evaluationsAtRecall(points.map((p) => ({ recall: p.recall, evaluations: p.bytesRead })), 0.95) } : {}),
      },
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
