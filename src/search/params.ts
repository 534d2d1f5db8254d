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
   * Seeds per query (CAGRA num_random_samplings): entry points first, then per-query
   * pseudo-random nodes. 0 = auto = max(entry points + 16, n / 50), at most 4096: on clustered
   * data a kNN-derived graph has few inter-cluster edges and the seeds must reach the query's
   * cluster (synthetic-20k: QPS at recall 0.95 rose 4.8x from 116 to 400 seeds).
   */
  numSeeds: number;
  /** log2 of the per-query visited-hash slots (CAGRA hashmap_max_fill_rate analogue; 0 = auto from itopk and degree). */
  hashBits: number;
  /** Lanes that serve one query (CAGRA team_size; 0 = auto). Queries per workgroup = workgroupSize / teamSize. */
  teamSize: number;
  /** Invocations per workgroup (CAGRA thread_block_size; 0 = auto = 64). */
  workgroupSize: number;
  /** Candidates reranked with exact f32 distances after an f16 search (GLASS rerank factor); 0 = auto: 2 x k when the index stores f16, else off. */
  refine: number;
}

export const DEFAULT_SEARCH_PARAMS: SearchParams = {
  itopk: 64,
  searchWidth: 1,
  maxIterations: 0,
  numSeeds: 0,
  hashBits: 0,
  teamSize: 0,
  workgroupSize: 0,
  refine: 0,
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
}

/** Validates user input and fills every auto (0) field for this index and k. */
export function resolveSearchParams(input: Partial<SearchParams>, k: number, degree: number, storesF16: boolean, numEntryPoints = 0, n = 0): ResolvedSearchParams {
  for (const key of Object.keys(input)) {
    if (!(key in DEFAULT_SEARCH_PARAMS)) throw new UserError(`search params: unknown field '${key}'; allowed: ${Object.keys(DEFAULT_SEARCH_PARAMS).join(', ')}`);
  }
  const p = { ...DEFAULT_SEARCH_PARAMS, ...input };
  const refine = intIn('refine', p.refine, 0, MAX_ITOPK) || (storesF16 ? Math.min(MAX_ITOPK, 2 * k) : 0);
  const searchK = Math.max(k, refine);
  // The list must hold the results.
  const itopk = Math.max(intIn('itopk', p.itopk, 1, MAX_ITOPK), searchK);
  if (itopk > MAX_ITOPK) throw new UserError(`search params: itopk ${itopk} (raised to cover k=${k} and refine=${refine}) exceeds ${MAX_ITOPK}`);
  const searchWidth = intIn('searchWidth', p.searchWidth, 1, 32);
  const maxIterations = intIn('maxIterations', p.maxIterations, 0, 100_000) || Math.ceil(itopk / searchWidth) + 32;
  const numSeeds = intIn('numSeeds', p.numSeeds, 0, 4096) || Math.min(4096, Math.max(numEntryPoints + 16, Math.ceil(n / 50)));
  // Enough slots that a search rarely needs to forget: every expanded neighbour plus seeds, at most half full.
  const want = Math.ceil(Math.log2(2 * (numSeeds + maxIterations * searchWidth * degree)));
  const hashBits = intIn('hashBits', p.hashBits, 0, 16) || Math.min(13, Math.max(8, want));
  const workgroupSize = intIn('workgroupSize', p.workgroupSize, 0, 1024) || 64;
  const teamSize = intIn('teamSize', p.teamSize, 0, 1024) || Math.min(workgroupSize, 32);
  if (workgroupSize % teamSize !== 0) throw new UserError(`search params: workgroupSize ${workgroupSize} must be a multiple of teamSize ${teamSize}`);
  return { itopk, searchWidth, maxIterations, numSeeds, hashBits, teamSize, workgroupSize, refine, searchK };
}
