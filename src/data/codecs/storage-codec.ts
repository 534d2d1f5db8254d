/**
 * How an index stores its vectors: one codec per storage (docs/ARCHITECTURE.md, "Where to add: a
 * codec"). A codec declares its row layout in the index file and on the GPU, the WGSL row loader
 * the beam search is concatenated with, whether results need an f32 rerank, and what values the
 * search sees (the CPU reference and the evaluator's distance check use those). The built-in
 * codecs are f32 and f16; registry.ts holds them by name.
 */

import type { Metric } from '../types.ts';

/** A codec's name: 'f32', 'f16', 'int8', 'binary', or one registered later (registry.ts registerCodec). */
export type VectorStorage = 'f32' | 'f16' | 'int8' | 'binary' | (string & {});

/**
 * What a trained codec (int8, binary) keeps beside the f32 rows: its parameters (trained on the
 * base: int8's per-dimension scale and offset, binary's rotation and centroid) and the packed GPU
 * rows (the codes) its row loader reads. The index file stores both (codec section, index-file.ts).
 */
export interface CodecData {
  params: Uint8Array;
  /** packRows(vectors, n, dim, rowVec4s(dim), params): n rows of `rowVec4s(dim)`-derived vec4<u32>. */
  codes: Uint32Array;
}

export interface StorageCodec {
  /** The name the index, the library option and --storage use. */
  readonly name: VectorStorage;
  /** The index file's storage field (u32 at offset 28); unique among codecs. */
  readonly fileCode: number;
  /** Bytes one row of `dim` values takes in the index file (the section is padded to 4 as a whole). */
  fileRowBytes(dim: number): number;
  /** Whole rows as the index file stores them (row-major, no padding between rows). */
  encode(values: Float32Array): ArrayBufferView;
  /** The index file's vector section (exactly its bytes) back to f32: the values the search sees. */
  decode(bytes: ArrayBuffer): Float32Array;
  /**
   * `values` as the search sees them, decode(encode(values)): an index keeps these in memory (so a
   * saved and reloaded index is identical), and the CPU reference and the evaluator's distance
   * check read them. A lossless codec may return `values` itself.
   */
  round(values: Float32Array): Float32Array;
  /**
   * The D4 the beam kernel is specialised with: vec4 groups of its private query `qv` (>= ceil(dim / 4)
   * for f32 and f16, whose query and rows share the width; a codec with `prepareQueries` derives its
   * own row width from it).
   */
  rowVec4s(dim: number): number;
  /** The GPU rows the row loader reads (a codec with `train` gets its trained params). */
  packRows(values: Float32Array, n: number, dim: number, dim4: number, params?: Uint8Array): ArrayBufferView;
  /**
   * Trained codecs: parameters fitted on the base rows (deterministic for a seed). With it, the index
   * keeps the f32 rows (`round` is the identity: the f32 rerank reads them) plus CodecData.
   */
  train?(values: Float32Array, n: number, dim: number, seed: number): Uint8Array;
  /**
   * The beam kernel's query rows (nq x dim4 vec4<f32>) from the f32 queries, for a codec whose
   * loader reads a transformed query (rotated, scaled, with per-query constants). Absent: the
   * queries padded to dim4. The refine pass always gets the f32 queries.
   */
  prepareQueries?(queries: Float32Array, nq: number, dim: number, dim4: number, metric: Metric, params: Uint8Array): Float32Array;
  /**
   * The candidate list reranked in f32 when the search leaves it on auto: refineFactor x k (f16 and
   * int8: 2; binary: more, its estimates are coarser). Undefined: 2.
   */
  readonly refineFactor?: number;
  /**
   * The WGSL row loader (`l2_partial`, `dot_partial`, reading the rows only through `base_at(i) -> vec4<u32>`, src/search/base-binding.ts): its file in shaders/ (or an
   * absolute path: a codec kept outside the project) and the kernel role it fills in
   * SearchKernelSources (src/search/beam-core.ts); bundles and variants name it by base name.
   */
  readonly rowLoader: { readonly role: string; readonly file: string };
  /** Lossy storage: the auto refine reranks 2k candidates with exact f32 distances. */
  readonly needsRefine: boolean;
  /** The largest finite magnitude it stores (f16: 65504; beyond it, Infinity); undefined: f32's range, checked for every storage (data/validate.ts). */
  readonly maxAbs?: number;
  /** WebGPU features the row loader needs (the device must have them). */
  readonly shaderFeatures: readonly string[];
}
