import type { GpuContext } from '../gpu/device.ts';
import { kernelPipeline } from '../gpu/pipeline.ts';
import { shaderSource } from '../gpu/shader.ts';
import { BeamSearchCore, defaultKernelPaths, type SearchKernelSources } from './beam-core.ts';
import type { SearchableIndex } from './searchable-index.ts';

// The host side lives in the Node-free beam-core.ts (shared with the browser loader).
export { beamWorkgroupBytes, type SearchKernelSources } from './beam-core.ts';
export type { SearchableIndex } from './searchable-index.ts';

export function defaultSearchSources(): SearchKernelSources {
  return Object.fromEntries(Object.entries(defaultKernelPaths()).map(([r, f]) => [r, shaderSource(f)])) as SearchKernelSources;
}

/**
 * Batched graph search on the GPU: the index is uploaded once; each `search` call uploads the
 * queries, runs one fused beam-search dispatch per batch (split only past binding limits),
 * optionally reranks with exact f32 distances, and reads ids and distances back.
 */
export class GpuSearcher extends BeamSearchCore {
  constructor(ctx: GpuContext, index: SearchableIndex, sources: Partial<SearchKernelSources> = {}) {
    super(ctx, index, { ...defaultSearchSources(), ...sources } as SearchKernelSources, (kernel) => kernelPipeline(ctx, kernel));
  }
}
