/**
 * Graph-build parameters: typed, documented, validated at the boundary. For every numeric field
 * 0 means "auto" (resolved from n by `resolveBuildParams`). Names in brackets are the papers' /
 * libraries' names for the same knob.
 */
import { availableParallelism } from 'node:os';
import { UserError } from '../errors.ts';

export type BuildAlgorithm = 'cagra' | 'vamana';
export type KnnSource = 'auto' | 'exact' | 'nn-descent';

export interface NnDescentParams {
  /**
   * Maximum local-join rounds [NN-descent "iterations"; pynndescent n_iters, default
   * max(5, round(log2 n)); cuVS nn_descent max_iterations, default 20]. 0 = auto =
   * max(12, round(log2 n)): 12 up to 4,096 rows, 17 at 100k, 20 at 1M. A cap, not a count: the
   * rounds stop earlier once fewer than delta * n * K entries change (synthetic-200000: 11 rounds;
   * 100k x 128: ~7), and rounds needed grow with log n, so a fixed 12 could cut a 1M build short.
   */
  iterations: number;
  /**
   * Sample rate [NN-descent rho]: each round a node joins at most ceil(rho * K) of its new
   * neighbours (and as many reverse ones), K = intermediateDegree. Default 0.2: lower than the
   * paper's 0.5-1.0 because the random-projection-tree start already supplies most close pairs
   * (measured on 100k x 128: 0.15-0.2 fastest at equal recall, 0.3 about 20% slower).
   */
  rho: number;
  /** Stop when a round changes fewer than delta * n * K list entries [NN-descent delta]. Default 0.001. */
  delta: number;
  /** Random-projection trees used to seed the lists [pynndescent n_trees]; 0 = auto: 2 up to 20k, 4 up to 200k, else 6. */
  trees: number;
  /** Leaf size of those trees [pynndescent leaf_size]; 0 = auto (= K, at most 128). */
  leafSize: number;
}

export interface VamanaParams {
  /** RobustPrune distance factor of the second pass [DiskANN alpha]. Default 1.2. */
  alpha: number;
  /** Build beam width [DiskANN L, typically 64-128]; 0 = auto = clamp(2R, 64, 256). */
  L: number;
  /** Maximum out-degree during the build [DiskANN R]; 0 = graphDegree. The stored graph keeps each row's first graphDegree edges (nearest first) or pads. */
  R: number;
}

export interface BuildParams {
  /** 'cagra': kNN graph -> rank-based prune -> reverse-edge merge. 'vamana': DiskANN RobustPrune. */
  algorithm: BuildAlgorithm;
  /**
   * Out-degree of the final fixed-degree graph [CAGRA graph_degree, cuVS default 64; hnswlib 2M].
   * 0 = auto: 32 for n <= 200,000 (enough for recall >= 0.99 on 100k-scale sets, half the GPU work
   * per hop), 64 above. At most 128 (the GPU search's limit) and at most n - 1.
   */
  graphDegree: number;
  /** Degree of the kNN graph that gets pruned [CAGRA intermediate_graph_degree, default 128]; 0 = 2 x graphDegree. */
  intermediateDegree: number;
  /**
   * Where the kNN graph comes from. 'auto': exact when an exact-kNN provider was injected and
   * n <= 50,000, else NN-descent. 'exact' without a provider uses the CPU brute force (O(n^2)).
   */
  knn: KnnSource;
  nnDescent: NnDescentParams;
  vamana: VamanaParams;
  /**
   * Entry-point set stored with the graph; the GPU search seeds each query from the closest few.
   * 0 = auto = clamp(round(sqrt(n)), 16, 256), at most n (cuVS issue 2102: one shared start node
   * loses recall; on clustered data every cluster wants a seed nearby).
   */
  numEntryPoints: number;
  /** Seed of every random choice; with threads = 1 the build is bit-for-bit reproducible. Default 1. */
  seed: number;
  /** Worker threads; 0 = os.availableParallelism(). */
  threads: number;
}

/** Caller-facing input: any subset, nested groups partial too. */
export type BuildParamsInput = {
  [K in keyof BuildParams]?: BuildParams[K] extends object ? Partial<BuildParams[K]> : BuildParams[K];
};

export const DEFAULT_BUILD_PARAMS: BuildParams = {
  algorithm: 'cagra',
  graphDegree: 0,
  intermediateDegree: 0,
  knn: 'auto',
  nnDescent: { iterations: 0, rho: 0.2, delta: 0.001, trees: 0, leafSize: 0 },
  vamana: { alpha: 1.2, L: 0, R: 0 },
  numEntryPoints: 0,
  seed: 1,
  threads: 0,
};

export const MAX_GRAPH_DEGREE = 128;
export const MAX_INTERMEDIATE_DEGREE = 512;
/** auto-kNN uses an injected exact provider up to this n. */
export const EXACT_KNN_AUTO_LIMIT = 50_000;

function fail(field: string, value: unknown, allowed: string): never {
  throw new UserError(`build params: ${field} = ${JSON.stringify(value)} is invalid; allowed: ${allowed}`);
}

function int(field: string, v: unknown, lo: number, hi: number, allowed = `0 (auto) or an integer ${lo}..${hi}`): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || (v !== 0 && (v < lo || v > hi))) fail(field, v, allowed);
  return v;
}

function num(field: string, v: unknown, lo: number, hi: number, allowed: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) fail(field, v, allowed);
  return v;
}

function checkKeys(group: string, obj: object, known: object): void {
  for (const key of Object.keys(obj)) {
    if (!(key in known)) throw new UserError(`build params: unknown field '${group}${key}'; known: ${Object.keys(known).join(', ')}`);
  }
}

/** Merge the input over the defaults and check every field's type and range (autos stay 0). */
export function validateBuildParams(input: BuildParamsInput = {}): BuildParams {
  if (typeof input !== 'object' || input === null) throw new UserError('build params: expected an object');
  checkKeys('', input, DEFAULT_BUILD_PARAMS);
  const nd = input.nnDescent ?? {};
  const vm = input.vamana ?? {};
  if (typeof nd !== 'object' || nd === null) fail('nnDescent', nd, 'an object');
  if (typeof vm !== 'object' || vm === null) fail('vamana', vm, 'an object');
  checkKeys('nnDescent.', nd, DEFAULT_BUILD_PARAMS.nnDescent);
  checkKeys('vamana.', vm, DEFAULT_BUILD_PARAMS.vamana);
  const p: BuildParams = {
    ...DEFAULT_BUILD_PARAMS,
    ...input,
    nnDescent: { ...DEFAULT_BUILD_PARAMS.nnDescent, ...nd },
    vamana: { ...DEFAULT_BUILD_PARAMS.vamana, ...vm },
  } as BuildParams;

  if (p.algorithm !== 'cagra' && p.algorithm !== 'vamana') fail('algorithm', p.algorithm, "'cagra' or 'vamana'");
  if (p.knn !== 'auto' && p.knn !== 'exact' && p.knn !== 'nn-descent') fail('knn', p.knn, "'auto', 'exact' or 'nn-descent'");
  int('graphDegree', p.graphDegree, 2, MAX_GRAPH_DEGREE);
  int('intermediateDegree', p.intermediateDegree, 2, MAX_INTERMEDIATE_DEGREE);
  if (p.graphDegree && p.intermediateDegree && p.intermediateDegree < p.graphDegree) {
    fail('intermediateDegree', p.intermediateDegree, `0 (auto) or an integer >= graphDegree (${p.graphDegree})`);
  }
  const n = p.nnDescent;
  int('nnDescent.iterations', n.iterations, 1, 1000);
  num('nnDescent.rho', n.rho, Number.MIN_VALUE, 1, 'a number in (0, 1]');
  num('nnDescent.delta', n.delta, 0, 1, 'a number in [0, 1]');
  int('nnDescent.trees', n.trees, 1, 64);
  int('nnDescent.leafSize', n.leafSize, 8, 4096);
  const v = p.vamana;
  num('vamana.alpha', v.alpha, 1, 4, 'a number in [1, 4]');
  int('vamana.L', v.L, 2, 4096);
  int('vamana.R', v.R, 2, MAX_GRAPH_DEGREE);
  int('numEntryPoints', p.numEntryPoints, 1, 65536);
  if (typeof p.seed !== 'number' || !Number.isInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff) {
    fail('seed', p.seed, 'an integer 0..4294967295');
  }
  int('threads', p.threads, 1, 256);
  return p;
}

/** Every auto resolved for a base of n vectors; explicit values that cannot fit n are UserErrors. */
export function resolveBuildParams(input: BuildParamsInput | BuildParams, n: number, hasExactProvider: boolean): BuildParams {
  const p = validateBuildParams(input as BuildParamsInput);
  const maxDegree = Math.max(1, n - 1);
  if (p.graphDegree > maxDegree) fail('graphDegree', p.graphDegree, `at most n - 1 = ${maxDegree} for this base`);
  const graphDegree = p.graphDegree || Math.min(n <= 200_000 ? 32 : 64, maxDegree);
  if (p.intermediateDegree > maxDegree) fail('intermediateDegree', p.intermediateDegree, `at most n - 1 = ${maxDegree} for this base`);
  const intermediateDegree = p.intermediateDegree || Math.min(2 * graphDegree, maxDegree);
  const knn: KnnSource = p.knn !== 'auto' ? p.knn : hasExactProvider && n <= EXACT_KNN_AUTO_LIMIT ? 'exact' : 'nn-descent';
  const iterations = p.nnDescent.iterations || Math.max(12, Math.round(Math.log2(Math.max(2, n))));
  const trees = p.nnDescent.trees || (n <= 20_000 ? 2 : n <= 200_000 ? 4 : 6);
  const leafSize = p.nnDescent.leafSize || Math.min(128, Math.max(16, intermediateDegree));
  const R = p.vamana.R || graphDegree;
  if (R > maxDegree) fail('vamana.R', R, `at most n - 1 = ${maxDegree} for this base`);
  const L = p.vamana.L || Math.min(256, Math.max(2 * R, 64));
  if (L < R) fail('vamana.L', L, `>= vamana.R (${R})`);
  const numEntryPoints = Math.min(n, p.numEntryPoints || Math.min(256, Math.max(16, Math.round(Math.sqrt(n)))));
  const threads = p.threads || Math.max(1, availableParallelism());
  return {
    ...p,
    graphDegree,
    intermediateDegree,
    knn,
    nnDescent: { ...p.nnDescent, iterations, trees, leafSize },
    vamana: { ...p.vamana, L, R },
    numEntryPoints,
    threads,
  };
}
