/**
 * From a module's knob values and the swept effort to the library's own parameters. Pure, shared by
 * the evaluator's sandbox child (which applies them), the library's bundle params
 * (kernel-params.ts), the browser loader and the browser bench, so a bundle runs with exactly the
 * params it was measured with. The knobs are declared in
 * kernels/baseline/MODULE/manifest.json; baseline defaults reproduce the library's auto values.
 */
import type { BuildParamsInput } from '../graph/params.ts';
import { effortParams, MAX_ITOPK, type SearchParams } from './params.ts';
import type { ModuleName } from '../bundle/module-manifest.ts';
import { codecFor, type VectorStorage } from '../data/codecs/registry.ts';

export type Knobs = Record<string, number>;

// filterTraversal 1 and bruteForceBelow 0.05 are the library's auto values (params.ts): a bundle
// exported before the filter knobs searches filtered queries as the library does.
const SEARCH_DEFAULTS: Knobs = { searchWidth: 1, teamSize: 32, workgroupSize: 64, numSeeds: 16, entryBeam: 32, iterationSlack: 32, storage: 0, rerankFactor: 0, filterTraversal: 1, bruteForceBelow: 0.05 };

/** Search knobs that act on filtered searches only (src/search/filter.ts): an unfiltered run's autotune leaves them at their values. */
export const FILTER_ONLY_KNOBS: readonly string[] = ['filterTraversal', 'bruteForceBelow'];

/** The search knob `storage`'s values: the codec each one picks. */
export const STORAGE_KNOB_CODECS: readonly VectorStorage[] = ['f32', 'f16', 'int8', 'binary'];

/**
 * The storage codec an evaluation of `module` searches (src/data/codecs/): the search knob
 * `storage` picks one of STORAGE_KNOB_CODECS (bundles exported before it carry storageF16: 1 is
 * f16); the refine module is always evaluated on an f16 index.
 */
export function storageOf(module: ModuleName, knobs: Knobs): VectorStorage {
  if (module === 'refine') return 'f16';
  if (module !== 'search') return 'f32';
  if (knobs.storage !== undefined) {
    const c = STORAGE_KNOB_CODECS[knobs.storage];
    if (c === undefined) throw new Error(`search knob storage: ${knobs.storage} is not one of 0..${STORAGE_KNOB_CODECS.length - 1} (${STORAGE_KNOB_CODECS.join(', ')})`);
    return c;
  }
  return knobs.storageF16 === 1 ? 'f16' : 'f32';
}

/**
 * Search params at one effort. Knobs of another module are ignored (their defaults apply), except
 * `searchKnobs`: the search stage's best, which a refine evaluation searches with.
 */
export function searchParamsFor(module: ModuleName, knobs: Knobs, effort: number, k: number, searchKnobs?: Knobs): Partial<SearchParams> {
  const s = module === 'search' ? { ...SEARCH_DEFAULTS, ...knobs } : { ...SEARCH_DEFAULTS, ...(searchKnobs ?? {}) };
  const e = effortParams(effort, k);
  // The filter knobs act on filtered searches only (src/search/filter.ts); an unfiltered one ignores them.
  const p: Partial<SearchParams> = {
    ...e, searchWidth: s.searchWidth, teamSize: s.teamSize, workgroupSize: s.workgroupSize, numSeeds: s.numSeeds, entryBeam: s.entryBeam,
    filterTraversal: s.filterTraversal, bruteForceBelow: s.bruteForceBelow,
  };
  const codec = codecFor(storageOf(module, knobs));
  const lossy = codec.needsRefine;
  const asked = e.itopk ?? k;
  // The rerank length: the knob's factor, else the codec's (resolveSearchParams' auto).
  const factor = (module === 'search' && knobs.rerankFactor) || codec.refineFactor || 2;
  let refine = lossy ? Math.min(MAX_ITOPK, Math.round(factor * k), Math.max(k, asked)) : 0;
  if (module === 'refine') refine = Math.min(MAX_ITOPK, Math.round((knobs.refineFactor ?? 2) * k), Math.max(k, asked));
  if (lossy) p.refine = refine;
  if (e.maxIterations === undefined) {
    // Same rule as resolveSearchParams' auto, with the slack as the knob.
    const itopk = Math.max(asked, k, refine);
    p.maxIterations = Math.ceil(itopk / s.searchWidth) + s.iterationSlack;
  }
  return p;
}

/**
 * Build params of the graph module (threads 1 and a fixed seed: the build is reproducible). A knob
 * left out is the library's auto (0), so `{}` is the graph `crinn build` makes by default: degree
 * 32 / 64 up to 200k rows and 64 / 128 above, max(12, log2 n) rounds. The graph manifest's
 * defaults (32 / 64 / 12) are those autos on the small sets the graph stage runs on.
 */
export function buildParamsFor(knobs: Knobs): BuildParamsInput {
  return {
    graphDegree: knobs.graphDegree ?? 0,
    intermediateDegree: knobs.intermediateDegree === undefined ? 0 : Math.max(knobs.intermediateDegree, knobs.graphDegree ?? 0),
    nnDescent: { iterations: knobs.nnDescentIterations ?? 0 },
    seed: 1,
    threads: 1,
  };
}
