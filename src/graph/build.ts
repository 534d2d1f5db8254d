/**
 * Graph build orchestration: vectors into the shared arena (renumbered into a locality order),
 * kNN graph (injected exact provider, CPU brute force, or NN-descent) -> CAGRA prune + reverse-edge
 * merge, or Vamana; entry points; ids mapped back to the caller's numbering. One worker pool per
 * build, always closed (also on error).
 */
import cliProgress from 'cli-progress';
import type { Metric, VectorSet } from '../data/types.ts';
import { METRICS } from '../data/types.ts';
import { UserError } from '../errors.ts';
import { resolveBuildParams, type BuildParams, type BuildParamsInput } from './params.ts';
import { createGraph, NO_NEIGHBOR, type Graph } from './graph.ts';
import { createArena } from './arena.ts';
import { WorkerPool } from './pool.ts';
import { knownBytesFor, nnDescent, sampleSize } from './nn-descent.ts';
import { cpuExactKnn, type KnnProvider } from './knn.ts';
import { cagraOptimize } from './prune.ts';
import { vamanaBuild } from './vamana.ts';
import { connectGraph, selectEntryPoints } from './entry-points.ts';
import { buildEntryLayer, entryLayerShape, type EntryLayer } from './entry-layer.ts';
import { buildEntryLayerOnPool } from './entry-layer-ops.ts';

export type { KnnProvider } from './knn.ts';

export interface BuildProgress {
  phase: string;
  /** Overall fraction done, 0..1. */
  fraction: number;
  seconds: number;
}

export interface BuildOptions {
  /** Exact kNN source (the GPU brute force); used per params.knn. */
  knn?: KnnProvider;
  onProgress?: (p: BuildProgress) => void;
  /** No progress bar on stderr. */
  quiet?: boolean;
  /**
   * A file URL of a module with prune.ts's exports (`cagraOptimize`, `pruneOps`): the CAGRA
   * prune runs that code, on this thread and in every worker (a graph variant, see
   * src/evolve/graph-variant.ts). Default: the shipped src/graph/prune.ts. The graph it writes is
   * checked (checkPrunedGraph) before anything else uses it.
   */
  pruneModule?: string;
  /**
   * Diagnostics: called once with the kNN graph the prune starts from (n * K ids in the caller's
   * numbering, each row ascending distance; K = intermediateDegree). CAGRA builds only.
   */
  onKnnGraph?: (ids: Int32Array, K: number) => void;
}

export interface BuildStats {
  seconds: number;
  /** Wall seconds per phase: setup (arena, workers), order, entryPoints, knn (NN-descent's own split as knn.*), prune | vamana, finish, entryLayer. */
  phases: Record<string, number>;
  /** NN-descent rounds run and list changes per round, when NN-descent ran. */
  nnDescentRounds?: number[];
  threads: number;
  /** Edges added so every node is reachable from the entry points; nodes still unreachable (normally 0). */
  bridges?: number;
  unreachable?: number;
}

export interface BuildResult {
  graph: Graph;
  entryPoints: Uint32Array;
  /** The sampled upper graph the search starts in (src/graph/entry-layer.ts). */
  entryLayer: EntryLayer;
  /** The parameters with every auto resolved. */
  params: BuildParams;
  stats: BuildStats;
}

/** Below this many vectors per thread extra workers cost more to start than they save. */
const MIN_ROWS_PER_THREAD = 2000;
/** Overall progress weights of the phases. */
const WEIGHTS: Record<string, [number, number]> = {
  order: [0, 0.03],
  entryPoints: [0.03, 0.05],
  knn: [0.05, 0.85],
  prune: [0.85, 0.96],
  vamana: [0.05, 0.96],
  finish: [0.96, 0.98],
  entryLayer: [0.98, 1],
};

function checkBase(base: VectorSet, metric: Metric): void {
  if (!(METRICS as readonly string[]).includes(metric)) throw new UserError(`graph build: unknown metric '${metric}'`);
  const { n, dim, data } = base;
  if (!Number.isInteger(n) || n < 1) throw new UserError(`graph build: the base needs at least 1 vector, got n = ${n}`);
  if (!Number.isInteger(dim) || dim < 1) throw new UserError(`graph build: dimension must be a positive integer, got ${dim}`);
  if (!(data instanceof Float32Array) || data.length < n * dim) {
    throw new UserError(`graph build: base data holds ${data?.length ?? 0} floats, expected n * dim = ${n * dim}`);
  }
}

const rssMiB = (): number => Math.round(process.memoryUsage.rss() / 2 ** 20);

/** A progress sink: the caller's callback, plus a bar on stderr (ETA, resident memory) once the build has run 1 s. */
function reporter(opts: BuildOptions, started: number): { phase(name: string, frac: number): void; stop(): void } {
  const wantBar = !opts.quiet && process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | null = null;
  let lastTenth = 0;
  return {
    phase(name, frac) {
      const [a, b] = WEIGHTS[name] ?? [0, 1];
      const fraction = a + (b - a) * Math.min(1, Math.max(0, frac));
      const seconds = (performance.now() - started) / 1000;
      opts.onProgress?.({ phase: name, fraction, seconds });
      // Without a terminal (a log file, a remote run), a line per tenth with the same estimate.
      if (!wantBar && !opts.quiet && Math.floor(fraction * 10) > lastTenth && seconds > 1) {
        lastTenth = Math.floor(fraction * 10);
        const eta = fraction > 0 ? (seconds * (1 - fraction)) / fraction : NaN;
        process.stderr.write(`graph build: ${Math.round(fraction * 100)}% ${name}, ${seconds.toFixed(0)} s, ETA ${Number.isFinite(eta) ? eta.toFixed(0) : '?'} s, RSS ${rssMiB()} MiB\n`);
      }
      if (!wantBar) return;
      if (!bar && seconds > 1) {
        bar = new cliProgress.SingleBar(
          { format: 'graph build [{bar}] {percentage}% {phase} | {elapsed}s | ETA {eta_formatted} | RSS {rss} MiB', stream: process.stderr, hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
          cliProgress.Presets.shades_classic,
        );
        bar.start(1000, Math.round(fraction * 1000), { phase: name, elapsed: seconds.toFixed(1), rss: rssMiB() });
      }
      bar?.update(Math.round(fraction * 1000), { phase: name, elapsed: seconds.toFixed(1), rss: rssMiB() });
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}

/**
 * Write the provider's exact kNN lists (caller's ids) into the arena's list region as codes in the
 * build numbering, checking each row: ids in range, not the row itself, no repeats.
 */
function providerToLists(ext: Int32Array, lists: Int32Array, n: number, K: number, perm: Int32Array, inv: Int32Array): void {
  if (ext.length < n * K) throw new Error(`kNN provider returned ${ext.length} ids, expected n * k = ${n * K}`);
  const seen = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const self = perm[i];
    const src = self * K;
    for (let r = 0; r < K; r++) {
      const id = ext[src + r];
      if (!(id >= 0 && id < n) || id === self || seen[id] === i) {
        throw new Error(`kNN provider returned an invalid or repeated neighbour ${id} for vector ${self}`);
      }
      seen[id] = i;
      lists[i * K + r] = inv[id] << 1;
    }
  }
}

/**
 * A pruned graph's rows, build numbering: every entry an id in [0, n) or NO_NEIGHBOR, never the
 * row's own node, never twice in a row. Throws naming the first bad row (prune code may be a
 * variant's). Then moves padding to the row ends (the search stops at a row's first NO_NEIGHBOR).
 */
export function checkPrunedGraph(neighbors: Uint32Array, n: number, degree: number): void {
  if (neighbors.length !== n * degree) throw new Error(`graph check after pruning: ${neighbors.length} entries, expected n * degree = ${n * degree}`);
  const seen = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < degree; j++) {
      const v = neighbors[i * degree + j];
      if (v === NO_NEIGHBOR) continue;
      if (v >= n) throw new Error(`graph check after pruning: row ${i} slot ${j} holds id ${v}, outside [0, ${n}) and not NO_NEIGHBOR`);
      if (v === i) throw new Error(`graph check after pruning: row ${i} slot ${j} is a self loop`);
      if (seen[v] === i) throw new Error(`graph check after pruning: row ${i} holds id ${v} twice`);
      seen[v] = i;
    }
  }
  for (let i = 0; i < n; i++) {
    const row = i * degree;
    let k = 0;
    for (let j = 0; j < degree; j++) if (neighbors[row + j] !== NO_NEIGHBOR) neighbors[row + k++] = neighbors[row + j];
    neighbors.fill(NO_NEIGHBOR, row + k, row + degree);
  }
}

async function pruneImpl(pruneModule: string | undefined): Promise<typeof cagraOptimize> {
  if (pruneModule === undefined) return cagraOptimize;
  const m = (await import(pruneModule)) as { cagraOptimize?: unknown };
  if (typeof m.cagraOptimize !== 'function') throw new Error(`prune module ${pruneModule}: does not export a function cagraOptimize(pool, n, K, graph)`);
  return m.cagraOptimize as typeof cagraOptimize;
}

/**
 * Build the search graph of `base` under `metric`. Angular data must already be L2-normalised.
 * Deterministic for a fixed seed when params.threads = 1.
 */
export async function buildGraph(
  base: VectorSet,
  metric: Metric,
  params: BuildParamsInput = {},
  opts: BuildOptions = {},
): Promise<BuildResult> {
  checkBase(base, metric);
  const started = performance.now();
  const { n, dim } = base;
  const p = resolveBuildParams(params, n, opts.knn !== undefined);
  const threads = Math.max(1, Math.min(p.threads, Math.floor(n / MIN_ROWS_PER_THREAD)));
  const phases: Record<string, number> = {};
  let t0 = started;
  const lap = (name: string): void => {
    const t = performance.now();
    phases[name] = (phases[name] ?? 0) + (t - t0) / 1000;
    t0 = t;
  };
  const degree = p.graphDegree;
  if (n === 1) {
    return {
      graph: createGraph(1, degree),
      entryPoints: new Uint32Array([0]),
      entryLayer: buildEntryLayer(base.data, 1, dim, metric, new Uint32Array([0]), { seed: p.seed }),
      params: p,
      stats: { seconds: (performance.now() - started) / 1000, phases, threads: 1 },
    };
  }

  const progress = reporter(opts, started);
  // The kNN lists live in the arena, where the wasm membership scan and detour count read them.
  const cagra = p.algorithm === 'cagra';
  const K = p.intermediateDegree;
  const knownBytes = cagra && p.knn === 'nn-descent' ? knownBytesFor(sampleSize(K, p.nnDescent.rho)) : 0;
  const extras = cagra ? { listInts: K, knownBytes } : {};
  const arena = createArena(base.data, n, dim, metric === 'l2', threads, extras);
  const prune = cagra ? await pruneImpl(opts.pruneModule) : cagraOptimize;
  const pool = await WorkerPool.create(arena, threads, cagra ? opts.pruneModule : undefined);
  lap('setup');
  let rounds: number[] | undefined;
  try {
    // Renumber in RP-tree leaf order: near vectors get near ids, so the lists and vectors a
    // local join touches share cache lines. Everything below runs in this numbering.
    progress.phase('order', 0);
    const perm = new Int32Array(new SharedArrayBuffer(n * 4));
    await pool.run('rp.order', (t) => (t === 0 ? { perm, leafSize: 64, seed: p.seed } : null));
    const f32 = new Float32Array(arena.memory.buffer);
    const { dim4 } = arena.layout;
    for (let i = 0; i < n; i++) f32.set(base.data.subarray(perm[i] * dim, perm[i] * dim + dim), i * dim4);
    const inv = new Int32Array(n);
    for (let i = 0; i < n; i++) inv[perm[i]] = i;
    lap('order');

    progress.phase('entryPoints', 0);
    const entry = await selectEntryPoints(pool, n, p.numEntryPoints, p.seed);
    lap('entryPoints');

    let inner: Uint32Array;
    if (cagra) {
      progress.phase('knn', 0);
      const lists = new Int32Array(arena.memory.buffer, arena.layout.listPtr, n * K);
      if (p.knn === 'exact' && opts.knn) {
        providerToLists(await opts.knn(base, K, metric), lists, n, K, perm, inv);
      } else if (p.knn === 'exact') {
        const knn = await cpuExactKnn(pool, n, K);
        for (let i = 0; i < n * K; i++) lists[i] = knn[i] << 1;
      } else {
        const res = await nnDescent(pool, n, K, p.nnDescent, p.seed, lists, (r, max) => progress.phase('knn', r / max));
        rounds = res.updates;
        for (const [k, v] of Object.entries(res.seconds)) phases[`knn.${k}`] = v;
      }
      lap('knn');
      if (opts.onKnnGraph) {
        const ids = new Int32Array(n * K);
        for (let i = 0; i < n; i++) for (let r = 0; r < K; r++) ids[perm[i] * K + r] = perm[lists[i * K + r] >> 1];
        opts.onKnnGraph(ids, K);
        t0 = performance.now();
      }
      progress.phase('prune', 0);
      const g = createGraph(n, degree);
      await prune(pool, n, K, g);
      checkPrunedGraph(g.neighbors, n, degree);
      inner = g.neighbors;
      lap('prune');
    } else {
      progress.phase('vamana', 0);
      inner = await vamanaBuild(pool, n, metric, p.vamana, entry[0], p.seed, (d, t) => progress.phase('vamana', d / t));
      lap('vamana');
    }

    // Bridge whatever the entry points cannot reach (separated clusters), then back to the
    // caller's ids: row perm[i] holds node i's edges, each mapped through perm.
    progress.phase('finish', 0);
    // Vamana rows are vamana.R long: keep the first graphDegree (nearest first) or pad.
    const R = inner.length / n;
    let rows = inner;
    if (R !== degree) {
      rows = new Uint32Array(n * degree).fill(NO_NEIGHBOR);
      for (let i = 0; i < n; i++) rows.set(inner.subarray(i * R, i * R + Math.min(R, degree)), i * degree);
    }
    const { bridges, unreachable } = await connectGraph(pool, rows, degree, entry);
    const graph = createGraph(n, degree);
    for (let i = 0; i < n; i++) {
      const dst = perm[i] * degree;
      for (let j = 0; j < degree; j++) {
        const v = rows[i * degree + j];
        graph.neighbors[dst + j] = v === NO_NEIGHBOR ? NO_NEIGHBOR : perm[v];
      }
    }
    const entryPoints = new Uint32Array(entry.length);
    for (let i = 0; i < entry.length; i++) entryPoints[i] = perm[entry[i]];
    lap('finish');
    progress.phase('entryLayer', 0);
    // Built in the arena's numbering on the pool, then its ids mapped like the graph's.
    const layer = await buildEntryLayerOnPool(pool, f32, n, dim, arena.layout.dim4, metric, entry, { seed: p.seed, ...entryLayerShape(degree) });
    const entryLayer: EntryLayer = { ...layer, ids: layer.ids.map((i) => perm[i]) };
    lap('entryLayer');
    progress.phase('entryLayer', 1);
    return {
      graph,
      entryPoints,
      entryLayer,
      params: { ...p, threads },
      stats: { seconds: (performance.now() - started) / 1000, phases, nnDescentRounds: rounds, threads, bridges, unreachable },
    };
  } finally {
    progress.stop();
    await pool.close();
  }
}
