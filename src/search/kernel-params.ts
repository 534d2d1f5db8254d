/**
 * A loaded tuned-kernel bundle as the engine uses it, and how its knob values become build and
 * search params. No zod and no file reads here: the engine imports this, and the evaluator's graph
 * child (which may read only src/ and webgpu) imports the engine. Loading and matching bundles is
 * src/search/bundle.ts.
 */
import type { BuildParamsInput } from '../graph/params.ts';
import type { VectorStorage } from '../data/codecs/registry.ts';
import { DEFAULT_SEARCH_PARAMS, type SearchParams } from './params.ts';
import type { SearchKernelSources } from './beam-core.ts';
// The evaluator's own knob mapping: a bundle runs with exactly the params it was measured with.
import { buildParamsFor, searchParamsFor, storageOf } from './knob-params.ts';

export interface KernelBundle {
  /** Manifest name and folder it was read from. */
  name: string;
  dir: string;
  /** The manifest's content hash (sha256 over the bundle's files). */
  contentHash: string;
  /** The adapter it was tuned on (manifest `adapter.name`). */
  adapter: string;
  /** Kernel roles the bundle replaces; the others stay the baseline's. */
  sources: Partial<SearchKernelSources>;
  /** params.json: knob values per module ({ search: { searchWidth: 2, ... }, refine: {...}, graph: {...} }). */
  knobs: Record<string, Record<string, number>>;
}

/**
 * Default search params of a bundle for one call: its search (and refine) knobs at the effort the
 * caller asked (itopk), exactly as the evaluator measured them; the caller's explicit params win.
 */
export function kernelSearchParams(b: KernelBundle, k: number, caller: Partial<SearchParams>, needsRefine: boolean): Partial<SearchParams> {
  const effort = caller.itopk ?? DEFAULT_SEARCH_PARAMS.itopk;
  const p = searchParamsFor('search', b.knobs.search ?? {}, effort, k);
  if (b.knobs.refine && needsRefine) p.refine = searchParamsFor('refine', b.knobs.refine, effort, k).refine;
  // Only a lossy codec's index (f16) has an f32 rerank to do.
  if (!needsRefine) delete p.refine;
  return { ...p, ...caller };
}

/** The graph module's knobs as build params (the caller's threads and seed stay theirs). */
export function kernelBuildParams(b: KernelBundle): BuildParamsInput {
  if (!b.knobs.graph) return {};
  const { threads: _t, seed: _s, ...p } = buildParamsFor(b.knobs.graph);
  return p;
}

/**
 * The storage the bundle's last stage was measured on: refine is always evaluated on an f16 index
 * (with the search stage's best), else the search knob storage (storageF16 in older bundles) decides.
 */
export function kernelStorage(b: KernelBundle): VectorStorage | undefined {
  if (b.knobs.refine) return storageOf('refine', b.knobs.refine);
  const s = b.knobs.search;
  return s?.storage === undefined && s?.storageF16 === undefined ? undefined : storageOf('search', s);
}
