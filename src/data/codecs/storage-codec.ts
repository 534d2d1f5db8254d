/**
 * How an index stores its vectors: one codec per storage (docs/ARCHITECTURE.md, "Where to add: a
 * codec"). A codec declares its row layout in the index file and on the GPU, the WGSL row loader
 * the beam search is concatenated with, whether results need an f32 rerank, and what values the
 * search sees (the CPU reference and the evaluator's distance check use those). The built-in
 * codecs are f32 and f16; registry.ts holds them by name.
 */

/** A codec's name: 'f32', 'f16', or one registered later (registry.ts registerCodec). */
export type VectorStorage = 'f32' | 'f16' | (string & {});

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
  /** vec4 groups per GPU row: the D4 the beam kernel and the queries are padded to (>= ceil(dim / 4)). */
  rowVec4s(dim: number): number;
  /** The GPU rows the row loader reads, each `dim4` vec4 groups long (dim4 = rowVec4s(dim)). */
  packRows(values: Float32Array, n: number, dim: number, dim4: number): ArrayBufferView;
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
