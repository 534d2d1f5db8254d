/**
 * What a search needs from an index, and its entry layer: shared by the GPU host code
 * (beam-core.ts, which the browser loader runs too) and its CPU reference (cpu-search.ts), so
 * neither imports the other for it.
 */
import type { Metric } from '../data/types.ts';
import { flatEntryLayer, type EntryLayer } from '../graph/entry-layer.ts';
import type { CodecData, VectorStorage } from '../data/codecs/registry.ts';
import type { LabelSets } from '../data/labels.ts';

/** What the GPU search needs from an index: vectors (f32 in memory), the graph, entry points. */
export interface SearchableIndex {
  metric: Metric;
  dim: number;
  n: number;
  /** The codec the rows are uploaded with (src/data/codecs/); `vectors` hold the values it stores. */
  storage: VectorStorage;
  vectors: Float32Array;
  /** A trained codec's params and codes (int8, binary); absent: the searcher trains them from `vectors`. */
  codecData?: CodecData;
  graph: { degree: number; neighbors: Uint32Array };
  entryPoints: Uint32Array;
  /** The sampled upper graph searched first; absent (hand-built indexes): its entry points, no edges. */
  entryLayer?: EntryLayer;
  /** Labels per vector, for filtered searches (src/data/labels.ts); absent: label filters are refused. */
  labels?: LabelSets;
}

/** The index's entry layer, or (indexes assembled by hand) an edgeless one over its entry points. */
export function entryLayerOf(index: SearchableIndex): EntryLayer {
  return index.entryLayer ?? flatEntryLayer(index.entryPoints.length ? index.entryPoints : new Uint32Array([0]));
}
