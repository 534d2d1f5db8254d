import { UserError } from '../errors.ts';

/**
 * Search-time knobs. Names follow CAGRA (cuVS cagra::search_params) with the hnswlib equivalent;
 * 0 means "auto", resolved per call by `resolveSearchParams`.
 */
export interface SearchParams {
  /** itopk_size (CAGRA; default 64) ~ ef (hnswlib, default 10): the internal sorted candidate list. The sweep's effort knob. */
  itopk: number;
  /** search_width (CAGRA; default 1): parents expanded per iteration. */
  searchWidth: number;
  /** max_iterations (CAGRA; 0 = auto ~ itopk / searchWidth + log term): hard stop. */
  maxIterations: number;
  /**
   * Start nodes of the entry-layer search (the first nodes of the index's entry layer: medoid,
   * then farthest-point picks). 0 = auto = 16. The entry layer, not a seed scan, gets each query
   * to its cluster (src/graph/entry-layer.ts).
   */
  numSeeds: number;
  /** Beam (list length) of the entry-layer search; its best entries seed the main search. 0 = auto = 32, at most itopk. */
  entryBeam: number;
  /** Iteration cap of the entry-layer search; 0 = auto = 2 x entryBeam + 32. */
  entryIterations: number;
  /** log2 of the per-query visited-hash slots (CAGRA hashmap_max_fill_rate analogue; 0 = auto from itopk and degree). */
  hashBits: number;
  /** Lanes that serve one query (CAGRA team_size; 0 = auto). Queries per workgroup = workgroupSize / teamSize. */
  teamSize: number;
  /** Invocations per workgroup (CAGRA thread_block_size; 0 = auto = 64). */
  workgroupSize: number;
  /**
   * Candidates reranked with exact f32 distances after a lossy search (GLASS rerank factor); 0 = auto
   * when the index's codec needs a refine (f16, src/data/codecs/): 2 x k, but never more than the
   * itopk asked for (so itopk can go down to k and the effort knob reaches low recall), else off.
   */
  refine: number;
  /**
   * Filtered searches (src/search/filter.ts): how the beam treats rows the query's filter rejects.
   * 1 = traverse them but never return them; 2 = skip them (distances only for passing rows, the
   * ACORN-style restriction: cheaper, but a sparse passing set can disconnect); 0 = auto = 1.
   */
  filterTraversal: number;
  /**
   * Filtered searches: a query whose filter passes fewer than this fraction of the base is answered
   * by exact distances over its passing rows instead of the beam (a few hundred rows cost less than
   * a beam that must wade through rejected ones). A fraction in 0..1; 0 = never.
   */
  bruteForceBelow: number;
}

export const DEFAULT_SEARCH_PARAMS: SearchParams = {
  itopk: 64,
  searchWidth: 1,
  maxIterations: 0,
  numSeeds: 0,
  entryBeam: 0,
  entryIterations: 0,
  hashBits: 0,
  teamSize: 0,
  workgroupSize: 0,
  refine: 0,
  filterTraversal: 0,
  bruteForceBelow: 0.05,
};

export const MAX_ITOPK = 512;

function intIn(field: keyof SearchParams, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new UserError(`search params: ${field} must be an integer in ${lo}..${hi} (0 = auto where allowed), got ${String(v)}`);
  }
  return v;
}

export interface ResolvedSearchParams extends SearchParams {
  /** Results per query from the beam kernel (k, or the refine count). */
  searchK: number;
  /** Resolved: 1 or 2. */
  filterTraversal: 1 | 2;
}

/** Validates user input and fills every auto (0) field for this index and k. */
export const DEFAULT_NUM_SEEDS = 16;
// synthetic-100k (CPU reference, 300 queries): at itopk 32 an entry beam of 16 plateaus at recall 0.931, 32 reaches 0.984.
export const DEFAULT_ENTRY_BEAM = 32;

/**
 * Validates user input and fills every auto (0) field for this index and k. `entryNodes` = size of
 * the index's entry layer. `needsRefine`: the codec's auto rerank, off (false), 2 x k (true) or
 * that many x k (its refineFactor).
 */
export function resolveSearchParams(input: Partial<SearchParams>, k: number, degree: number, needsRefine: boolean | number, entryNodes = 1, entryDegree = 1): ResolvedSearchParams {
  for (const key of Object.keys(input)) {
    if (!(key in DEFAULT_SEARCH_PARAMS)) throw new UserError(`search params: unknown field '${key}'; allowed: ${Object.keys(DEFAULT_SEARCH_PARAMS).join(', ')}`);
  }
  const p = { ...DEFAULT_SEARCH_PARAMS, ...input };
  const asked = intIn('itopk', p.itopk, 1, MAX_ITOPK);
  const factor = needsRefine === true ? 2 : needsRefine === false ? 0 : needsRefine;
  const refine = intIn('refine', p.refine, 0, MAX_ITOPK) || (factor > 0 ? Math.min(MAX_ITOPK, Math.round(factor * k), Math.max(k, asked)) : 0);
  const searchK = Math.max(k, refine);
  // The list must hold the results.
  const itopk = Math.max(asked, searchK);
  if (itopk > MAX_ITOPK) throw new UserError(`search params: itopk ${itopk} (raised to cover k=${k} and refine=${refine}) exceeds ${MAX_ITOPK}`);
  const searchWidth = intIn('searchWidth', p.searchWidth, 1, 32);
  const maxIterations = intIn('maxIterations', p.maxIterations, 0, 100_000) || Math.ceil(itopk / searchWidth) + 32;
  const numSeeds = Math.min(Math.max(1, entryNodes), intIn('numSeeds', p.numSeeds, 0, 4096) || DEFAULT_NUM_SEEDS);
  const entryBeam = Math.min(itopk, intIn('entryBeam', p.entryBeam, 0, MAX_ITOPK) || DEFAULT_ENTRY_BEAM);
  const entryIterations = intIn('entryIterations', p.entryIterations, 0, 100_000) || 2 * entryBeam + 32;
  // Enough slots that a search rarely needs to forget: every expanded neighbour plus seeds, at most half full.
  const entryWant = numSeeds + entryIterations * searchWidth * entryDegree;
  const want = Math.ceil(Math.log2(2 * Math.max(entryWant, entryBeam + maxIterations * searchWidth * degree)));
  const hashBits = intIn('hashBits', p.hashBits, 0, 16) || Math.min(13, Math.max(8, want));
  const workgroupSize = intIn('workgroupSize', p.workgroupSize, 0, 1024) || 64;
  const teamSize = intIn('teamSize', p.teamSize, 0, 1024) || Math.min(workgroupSize, 32);
  if (workgroupSize % teamSize !== 0) throw new UserError(`search params: workgroupSize ${workgroupSize} must be a multiple of teamSize ${teamSize}`);
  const filterTraversal = (intIn('filterTraversal', p.filterTraversal, 0, 2) || 1) as 1 | 2;
  const bruteForceBelow = p.bruteForceBelow;
  if (typeof bruteForceBelow !== 'number' || !(bruteForceBelow >= 0 && bruteForceBelow <= 1)) throw new UserError(`search params: bruteForceBelow must be a fraction in 0..1 (0 = never), got ${String(bruteForceBelow)}`);
  return { itopk, searchWidth, maxIterations, numSeeds, entryBeam, entryIterations, hashBits, teamSize, workgroupSize, refine, searchK, filterTraversal, bruteForceBelow };
}

/**
 * The sweep's one effort knob over this search: effort >= k is itopk; below k, itopk = k and the
 * main-graph search stops after `effort` iterations, so the cheapest settings reach recall well
 * below 0.85 (siftsmall at itopk 10: 0.51 / 0.81 / 0.94 after 2 / 4 / 8 iterations, 0.97 uncapped)
 * and all of them share one compiled kernel.
 */
export function effortParams(effort: number, k: number): Partial<SearchParams> {
  const e = Math.max(1, Math.round(effort));
  return e >= k ? { itopk: e } : { itopk: k, maxIterations: e };
}

/** The WebGPU core default of maxComputeWorkgroupStorageSize (an adapter may offer more: lavapipe 32768). */
export const DEFAULT_WORKGROUP_STORAGE = 16384;

/**
 * Workgroup memory one beam-search workgroup uses, mirroring the declarations in beam_search.wgsl.
 * The one copy of this formula: the GPU search (beam-core.ts) and the manifests' workgroupMemory
 * constraint (src/evolve/constraints.ts) both call it through `fitWorkgroupMemory`.
 */
export function beamWorkgroupBytes(p: Pick<ResolvedSearchParams, 'workgroupSize' | 'teamSize' | 'searchWidth' | 'hashBits'>, degree: number, entryDegree = 1): number {
  const qpw = p.workgroupSize / p.teamSize;
  const cand = p.searchWidth * Math.max(degree, entryDegree);
  return qpw * (cand * 8 + (1 << p.hashBits) * 4 + 4 + p.searchWidth * 4 + 4) + 4;
}

/**
 * Fits resolved params into a workgroup-memory budget of `limit` bytes: shrinks an auto visited
 * hash (it forgets more often) down to 2 x searchWidth x degree slots before giving up; a UserError
 * when one workgroup still needs more. `hashBitsFixed`: the caller set hashBits, never shrink it.
 * Changes and returns `p`.
 */
export function fitWorkgroupMemory(p: ResolvedSearchParams, degree: number, entryDegree: number, limit: number, hashBitsFixed = false): ResolvedSearchParams {
  const minBits = Math.ceil(Math.log2(2 * p.searchWidth * degree));
  while (beamWorkgroupBytes(p, degree, entryDegree) > limit && p.hashBits > minBits && !hashBitsFixed) p.hashBits--;
  const bytes = beamWorkgroupBytes(p, degree, entryDegree);
  if (bytes > limit) {
    throw new UserError(`search params: one workgroup needs ${bytes} bytes of workgroup memory (itopk ${p.itopk}, hashBits ${p.hashBits}, ${p.workgroupSize / p.teamSize} queries) but this adapter allows ${limit}; lower itopk, hashBits or workgroupSize/teamSize`);
  }
  return p;
}
