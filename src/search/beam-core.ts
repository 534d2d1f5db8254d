/**
 * The batched beam search's host side without Node APIs: uploads, parameter resolution against the
 * device's limits, kernel specialisation, bind layout, uniforms, dispatch and readback. The Node
 * engine (gpu-search.ts, GpuSearcher) and the browser loader (src/browser/) both run this, so the
 * two execute the same WGSL the same way. The GPU context is typed as GpuContext but only `device`,
 * `limits`, `wait`, `checkDispatch` and `createBuffer` / `memory` are used (the browser passes an
 * object with just those).
 */
import { UserError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { Kernel } from '../gpu/kernel-text.ts';
import { bindGroup, bufferScope, readBuffers, storageBuffer, uniformBuffer } from '../gpu/buffers.ts';
import { encodePass, grid2d } from '../gpu/dispatch.ts';
import { padRows, selectKernelFrom, selectListLength, withConst, type BindingKind } from '../gpu/kernel-text.ts';
import { codecFor, codecs, searchRowBytes, trainCodec, type CodecData, type StorageCodec } from '../data/codecs/registry.ts';
import { METRIC_CODE, type Neighbors, type VectorSet } from '../data/types.ts';
import type { EntryLayer } from '../graph/entry-layer.ts';
import { entryLayerOf, type SearchableIndex } from './searchable-index.ts';
import { fitWorkgroupMemory, resolveSearchParams, type ResolvedSearchParams, type SearchParams } from './params.ts';
import { baseBindingWgsl, checkStorageBindings, chunkLayout, chunkRange, graphBindingWgsl, rowWindows, type BindingLimits, type ChunkLayout, type RowWindow } from './base-binding.ts';

export { beamWorkgroupBytes } from './params.ts';

/** A filtered search's filter table for one call (src/search/filter.ts builds it). */
export interface BeamFilterTable {
  /** Per query 4 words (kind, payload offset, payload length, 0), then the payloads (shaders/filter_labels.wgsl). */
  table: Uint32Array;
}

const NONE = 0xffffffff;

/**
 * Explicit layouts (the host's, not the variant's): the index buffers (base, graph, entry layer)
 * persist across calls and systems, so a kernel can only read them; WGSL declaring one of them
 * `read_write` fails pipeline creation.
 * beam_search: params; queries, base, graph, entry layer; out_ids, out_dist, out_evals; then the
 * extra chunks of a base and a graph too large for one binding (base-binding.ts).
 */
export const BEAM_BINDINGS: readonly BindingKind[] = ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage', 'storage', 'storage'];
/** A filtered beam search adds the filter file's two: labels, the call's filter table (shaders/filter_labels.wgsl). */
export const FILTER_BINDINGS: readonly BindingKind[] = ['read-only-storage', 'read-only-storage'];
/**
 * The unfiltered kernel's predicate: beam_search.wgsl calls `passes` only where FILTER != 0, but
 * WGSL needs the function defined, and the filter file's bindings must stay out of this pipeline.
 */
const NO_FILTER_WGSL = 'fn passes(id: u32) -> bool { return true; }';
/** refine: params; queries, base (f32), candidate ids; dist, ids; then the extra chunks of the f32 rows. */
export const REFINE_BINDINGS: readonly BindingKind[] = ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage', 'storage'];
/** refine_pass: params; candidates, the pass's dist and ids; the next pass's candidates, dist, ids. */
export const REFINE_PASS_BINDINGS: readonly BindingKind[] = ['uniform', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage', 'storage', 'storage'];

/**
 * Kernel sources the search runs; the evolution loop swaps these for variants, the browser gets them
 * from a bundle. Besides the fixed roles, one row loader per storage codec under the codec's
 * `rowLoader.role` (baseF32, baseF16: src/data/codecs/).
 */
export interface SearchKernelSources {
  beam: string;
  refine: string;
  /** topk_select.wgsl, for the refine pass's selection. */
  topk: string;
  /** refine_pass.wgsl: masks and merges the passes of a rerank split over binding windows (needed only then). */
  refinePass?: string;
  /** filter_labels.wgsl: the predicate of filtered searches. */
  filter: string;
  /** Row loaders by codec role (baseF32, baseF16, ...). */
  [role: string]: string | undefined;
}

/** A kernel role: beam, refine, topk, or a codec's row loader role. */
export type KernelRole = string;

const readOnly = (count: number): BindingKind[] => Array.from({ length: count }, () => 'read-only-storage' as const);
/** Bindings [from, from + count): where a kernel's extra chunks go. */
const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/** One array uploaded as its layout's chunks (one buffer per binding). */
function uploadChunks(ctx: GpuContext, label: string, data: ArrayBufferView, layout: ChunkLayout): GPUBuffer[] {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return Array.from({ length: layout.chunks }, (_, c) => {
    const [a, b] = chunkRange(layout, c);
    return storageBuffer(ctx, layout.chunks === 1 ? label : `${label}[${c}]`, bytes.subarray(a * layout.elementBytes, b * layout.elementBytes));
  });
}

const baseName = (file: string): string => file.slice(file.lastIndexOf('/') + 1);

/**
 * The file that fills each kernel role, by base name: in shaders/, variant folders and bundles
 * alike. The row loaders are the registered codecs' (src/data/codecs/registry.ts).
 */
export function searchKernelFiles(): Readonly<Record<KernelRole, string>> {
  return {
    beam: 'beam_search.wgsl',
    ...Object.fromEntries(codecs().map((c) => [c.rowLoader.role, baseName(c.rowLoader.file)])),
    refine: 'refine.wgsl',
    topk: 'topk_select.wgsl',
    refinePass: 'refine_pass.wgsl',
    filter: 'filter_labels.wgsl',
  };
}

/** Where each role's default source lies: a file in shaders/, or a codec's absolute path. */
export function defaultKernelPaths(): Readonly<Record<KernelRole, string>> {
  return { ...searchKernelFiles(), ...Object.fromEntries(codecs().map((c) => [c.rowLoader.role, c.rowLoader.file])) };
}

/** The roles each evolvable module's files fill (the others stay as they are): search is the beam kernel and every codec's row loader. */
export function moduleKernelRoles(module: 'search' | 'refine'): readonly KernelRole[] {
  return module === 'search' ? ['beam', 'filter', ...codecs().map((c) => c.rowLoader.role)] : ['refine'];
}

/** The kernel role a file fills, by its base name ('search/beam_search.wgsl' -> 'beam'), or undefined. */
export function kernelRoleOf(file: string): KernelRole | undefined {
  const base = baseName(file);
  const files = searchKernelFiles();
  return Object.keys(files).find((r) => files[r] === base);
}

/** `sources` with the given roles replaced by the files (keyed by base name) that fill them. */
export function withKernelFiles<T extends Partial<SearchKernelSources>>(sources: T, files: Record<string, string>, roles: readonly KernelRole[]): T {
  const out: Record<string, string | undefined> = { ...sources };
  const names = searchKernelFiles();
  for (const r of roles) {
    const text = files[names[r]];
    if (text !== undefined) out[r] = text;
  }
  return out as T;
}

/**
 * The storage bindings the beam kernel needs for an index of `codec` rows, `n` x `dim`, on a graph
 * of `degree`, under `limits` (the constructor's check, planned before anything is built).
 */
export function beamBindingsNeeded(codec: StorageCodec, n: number, dim: number, degree: number, limits: BindingLimits): number {
  const rows = chunkLayout(`index rows (${codec.name})`, Math.ceil((searchRowBytes(codec, dim) * n) / 16), 16, limits);
  const graph = chunkLayout('index graph', n * degree, 4, limits);
  return BEAM_BINDINGS.length - 1 + rows.chunks - 1 + graph.chunks - 1;
}

/**
 * Batched graph search on the GPU: the index is uploaded once; each `search` call uploads the
 * queries, runs one fused beam-search dispatch per batch (split only past binding limits),
 * optionally reranks with exact f32 distances, and reads ids and distances back.
 */
export class BeamSearchCore {
  readonly ctx: GpuContext;
  readonly index: SearchableIndex;
  /** How the rows are stored on the GPU (src/data/codecs/). */
  readonly codec: StorageCodec;
  /** vec4s per row of the queries the beam kernel reads (the codec's D4). */
  readonly dim4: number;
  /** Width of the f32 rows and queries the refine pass reads: dim4, or ceil(dim / 4) for a codec with its own query form. */
  readonly exactDim4: number;
  /** A trained codec's params and codes (int8, binary): the index's, or trained here as buildIndex would. */
  readonly codecData: CodecData | undefined;
  private readonly baseSearch: GPUBuffer[];
  private readonly baseExact: GPUBuffer[] | null;
  private readonly graphBuf: GPUBuffer[];
  /** How the GPU rows, the f32 rerank rows and the graph are split over bindings (base-binding.ts). */
  readonly layouts: { base: ChunkLayout; exact: ChunkLayout | null; graph: ChunkLayout };
  private readonly entryBuf: GPUBuffer;
  private readonly layer: EntryLayer;
  private readonly sources: SearchKernelSources;
  private labelBuf: GPUBuffer | null = null;
  private exactBuf: GPUBuffer | null = null;
  /**
   * The rerank's passes: one over every chunk of the f32 rows, or where one kernel cannot bind them
   * all (a 1M x 768 index on a 128 MiB x 16 adapter), one pass per window of chunks.
   */
  readonly refineWindows: readonly RowWindow[];

  /** Compiles (and caches) a kernel on this device. */
  readonly pipeline: (kernel: Kernel) => Promise<GPUComputePipeline>;

  /** `pipeline` compiles (and caches) a kernel on this device: kernelPipeline in Node, its own in the browser. */
  constructor(ctx: GpuContext, index: SearchableIndex, sources: SearchKernelSources, pipeline: (kernel: Kernel) => Promise<GPUComputePipeline>) {
    this.ctx = ctx;
    this.pipeline = pipeline;
    this.index = index;
    this.sources = sources;
    const codec = codecFor(index.storage, 'index storage');
    this.codec = codec;
    const missing = codec.shaderFeatures.filter((f) => !ctx.device.features.has(f));
    if (missing.length) throw new UserError(`index storage ${codec.name}: this device lacks the WebGPU feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')} its row loader needs`);
    // The codec's row width (f16 reads eight dimensions per load, so pads to a multiple of 8); queries and the f32 rows share it.
    const dim4 = codec.rowVec4s(index.dim);
    this.dim4 = dim4;
    this.exactDim4 = codec.prepareQueries ? Math.ceil(index.dim / 4) : dim4;
    this.codecData = codec.train ? (index.codecData ?? trainCodec(codec, index.vectors, index.n, index.dim)) : undefined;
    if (this.codecData && this.codecData.codes.length * 4 !== index.n * codec.packRows(new Float32Array(index.dim), 1, index.dim, dim4, this.codecData.params).byteLength) {
      throw new UserError(`index storage ${codec.name}: its codes hold ${this.codecData.codes.length * 4} bytes, not ${index.n} rows of this codec`);
    }
    // Arrays past one binding are split (base-binding.ts); a device that cannot bind all the chunks cannot hold the index.
    const lim = ctx.limits;
    const rows = this.codecData ? this.codecData.codes : codec.packRows(index.vectors, index.n, index.dim, dim4);
    const base = chunkLayout(`index rows (${codec.name})`, Math.ceil(rows.byteLength / 16), 16, lim);
    const exact = codec.needsRefine ? chunkLayout('index rows (f32, for the rerank)', index.n * this.exactDim4, 16, lim) : null;
    const graph = chunkLayout('index graph', index.n * index.graph.degree, 4, lim);
    this.layouts = { base, exact, graph };
    const mib = (l: ChunkLayout) => `${((l.elements * l.elementBytes) / 2 ** 20).toFixed(1)} MiB`;
    // A smaller codec may fit where this one does not: name it (1M x 768 as f16 on lavapipe: int8 fits).
    const smaller = () => {
      const int8 = codecFor('int8');
      if (codec.name === int8.name || searchRowBytes(int8, index.dim) >= searchRowBytes(codec, index.dim)) return '';
      const need = beamBindingsNeeded(int8, index.n, index.dim, index.graph.degree, lim);
      return need <= lim.maxStorageBuffersPerShaderStage ? ` as ${codec.name}; as int8 it needs ${need} (crinn build --storage int8)` : '';
    };
    checkStorageBindings('beam_search', BEAM_BINDINGS.length - 1, [base, graph], lim, `the rows (${mib(base)}) and the graph (${mib(graph)})`, smaller);
    // The refine kernel's own storage bindings hold the first chunk; the rest of a window follows them.
    this.refineWindows = rowWindows(this.exactLayout(), index.n, this.exactDim4, lim.maxStorageBuffersPerShaderStage - (REFINE_BINDINGS.length - 2));
    this.baseSearch = uploadChunks(ctx, `index:vectors-${codec.name}`, rows, base);
    // A lossy codec's results are reranked with exact f32 distances over the f32 rows (f16: of the same width as its own).
    this.baseExact = exact ? uploadChunks(ctx, 'index:vectors-f32', padRows({ data: index.vectors, n: index.n, dim: index.dim }, this.exactDim4).data, exact) : null;
    this.graphBuf = uploadChunks(ctx, 'index:graph', index.graph.neighbors, graph);
    // The entry layer in one binding: node ids, then rows (beam_search.wgsl `entries`).
    this.layer = entryLayerOf(index);
    const packed = new Uint32Array(this.layer.ids.length + this.layer.neighbors.length);
    packed.set(this.layer.ids);
    packed.set(this.layer.neighbors, this.layer.ids.length);
    this.entryBuf = storageBuffer(ctx, 'index:entry-layer', packed);
  }

  /** Resolves params for k and checks them against this device (workgroup memory, invocations). */
  resolve(k: number, params: Partial<SearchParams>): ResolvedSearchParams {
    const p = resolveSearchParams(params, k, this.index.graph.degree, this.codec.needsRefine && (this.codec.refineFactor ?? true), this.layer.ids.length, this.layer.degree);
    if (p.searchK > this.index.n) throw new UserError(`k: ${p.searchK} results per query but the index has ${this.index.n} vectors`);
    // Shrinks an auto visited hash before giving up on the workgroup budget (params.ts, shared with the manifests' constraint check).
    fitWorkgroupMemory(p, this.index.graph.degree, this.layer.degree, this.ctx.limits.maxComputeWorkgroupStorageSize, params.hashBits !== undefined);
    this.ctx.checkDispatch('beam_search', p.workgroupSize, [1]);
    return p;
  }

  /** `filter`: 0 unfiltered, else the traversal (params.ts filterTraversal) of a filtered search. */
  beamKernel(p: ResolvedSearchParams, countEvals = false, filter: 0 | 1 | 2 = 0): Kernel {
    const loader = this.sources[this.codec.rowLoader.role];
    if (loader === undefined) throw new Error(`search kernels: no row loader for storage ${this.codec.name} (role ${this.codec.rowLoader.role}, ${this.codec.rowLoader.file})`);
    const constants = {
      WG: p.workgroupSize, TEAM: p.teamSize, DEGREE: this.index.graph.degree, SW: p.searchWidth,
      HASH_BITS: p.hashBits, METRIC: METRIC_CODE[this.index.metric], NSEEDS: p.numSeeds,
      UDEG: this.layer.degree, UBEAM: p.entryBeam, COUNT_EVALS: countEvals ? 1 : 0, ...(filter ? { FILTER: filter } : {}),
    };
    const { base, graph } = this.layouts;
    const [baseExtra, graphExtra] = this.beamExtraBindings(filter !== 0);
    return {
      name: 'beam_search',
      // The chunk counts are compile-time (bindings and accessor): part of the key where the arrays are split.
      cacheKey: `${this.codec.name}-d4=${this.dim4}-itopk=${p.itopk}${filter ? '-filtered' : ''}${base.chunks > 1 || graph.chunks > 1 ? `-chunks=${base.chunks}.${graph.chunks}` : ''}`,
      source: `${withConst(withConst(this.sources.beam, 'D4', this.dim4), 'ITOPK', p.itopk)}\n${baseBindingWgsl(base, baseExtra)}\n${graphBindingWgsl(graph, graphExtra)}\n${loader}\n${filter ? this.sources.filter : NO_FILTER_WGSL}`,
      constants,
      bindings: [...BEAM_BINDINGS, ...(filter ? FILTER_BINDINGS : []), ...readOnly(baseExtra.length + graphExtra.length)],
    };
  }

  /** The beam kernel's extra chunk bindings: the base's, then the graph's, after its own (and the filter file's two when filtered). */
  private beamExtraBindings(filtered: boolean): [number[], number[]] {
    const first = BEAM_BINDINGS.length + (filtered ? FILTER_BINDINGS.length : 0);
    const b = this.layouts.base.chunks - 1;
    return [range(first, b), range(first + b, this.layouts.graph.chunks - 1)];
  }

  /** How the f32 rows the rerank reads are split: the refine rows', or the search rows of an f32 index. */
  private exactLayout(): ChunkLayout {
    return this.layouts?.exact ?? chunkLayout('index rows (f32, for the rerank)', this.index.n * this.exactDim4, 16, this.ctx.limits);
  }

  /** The exact-distance rerank kernel of one window of the f32 rows (the only one where they fit one kernel). */
  refineKernel(window: RowWindow = this.refineWindows[0]): Kernel {
    const exact = this.exactLayout();
    const whole = this.refineWindows.length === 1;
    const extra = range(REFINE_BINDINGS.length, window.endChunk - window.firstChunk - 1);
    return {
      name: 'refine',
      cacheKey: (exact.chunks > 1 ? `f32-chunks=${exact.chunks}` : 'f32') + (whole ? '' : `-window=${window.firstChunk}.${window.endChunk}`),
      source: `${this.sources.refine}\n${baseBindingWgsl(exact, extra, whole ? null : window.firstChunk)}`,
      constants: { WG: 64, D4: this.exactDim4, METRIC: METRIC_CODE[this.index.metric] },
      bindings: [...REFINE_BINDINGS, ...readOnly(extra.length)],
    };
  }

  /** Every kernel a rerank runs: the refine kernel of each window, and refine_pass between windows. */
  refineKernels(): Kernel[] {
    const out = this.refineWindows.map((w) => this.refineKernel(w));
    if (this.refineWindows.length > 1) {
      if (this.sources.refinePass === undefined) throw new UserError(`refine: the f32 rows need ${this.refineWindows.length} windows of bindings on this device, and these kernel sources have no refine_pass.wgsl to join them`);
      out.push({ name: 'refine_pass', cacheKey: 'v1', source: this.sources.refinePass, constants: { WG: 64 }, bindings: REFINE_PASS_BINDINGS });
    }
    return out;
  }

  /**
   * Encodes the exact rerank of each query's `r` candidate ids (`cand`, nq x r; ids >= n score
   * +inf / -1): f32 distances by one refine dispatch, or one per window with refine_pass between
   * them, then topk_select's best `k` of each row. Returns the selection's buffers (of the scope),
   * rows of `stride` = selectListLength(k) entries, sorted. `queries` are the f32 queries at exactDim4.
   */
  async encodeRerank(enc: GPUCommandEncoder, scope: ReturnType<typeof bufferScope>, label: string, nq: number, r: number, k: number, queries: GPUBuffer, cand: GPUBuffer): Promise<{ dist: GPUBuffer; ids: GPUBuffer; stride: number }> {
    const { dist, ids } = await this.encodeRefine(enc, scope, label, nq, r, queries, cand);
    const K = selectListLength(k);
    const pipe = await this.pipeline(selectKernelFrom(this.kernelSource('topk'), K));
    const topd = scope.make(`${label}:topd`, nq * K * 4);
    const topi = scope.make(`${label}:topi`, nq * K * 4);
    // One segment per row: rows, len, seg_len, segs, in_stride, out_stride, out_offset, id_base, explicit.
    const u = uniformBuffer(this.ctx, `${label}:select`, new Uint32Array([nq, r, r, 1, r, K, 0, 0, 1, 0, 0, 0]));
    scope.own(u);
    encodePass(enc, 'topk_select', pipe, bindGroup(this.ctx, pipe, `${label}-select`, [u, dist, ids, topd, topi]), grid2d(this.ctx, 'topk_select', Math.ceil(nq / 64), 64));
    return { dist: topd, ids: topi, stride: K };
  }

  /** The exact f32 distances of encodeRerank, unselected: one refine dispatch, or one per window with refine_pass between them. */
  private async encodeRefine(enc: GPUCommandEncoder, scope: ReturnType<typeof bufferScope>, label: string, nq: number, r: number, queries: GPUBuffer, cand: GPUBuffer): Promise<{ dist: GPUBuffer; ids: GPUBuffer }> {
    const ctx = this.ctx;
    const total = nq * r;
    const rows = this.exactRows();
    const dist = scope.make(`${label}:dist`, total * 4);
    const ids = scope.make(`${label}:ids`, total * 4);
    const u = uniformBuffer(ctx, `${label}:refine-params`, new Uint32Array([nq, r, this.index.n, 0]));
    scope.own(u);
    const groups = grid2d(ctx, 'refine', Math.ceil(total / 64), 64);
    const wins = this.refineWindows;
    if (wins.length === 1) {
      const pipe = await this.pipeline(this.refineKernel());
      encodePass(enc, 'refine', pipe, bindGroup(ctx, pipe, label, [u, queries, rows[0], cand, dist, ids, ...rows.slice(1)]), groups);
      return { dist, ids };
    }
    const [passPipe, ...pipes] = await Promise.all([this.pipeline(this.refineKernels().at(-1)!), ...wins.map((w) => this.pipeline(this.refineKernel(w)))]);
    const passCand = scope.make(`${label}:window-cand`, total * 4);
    const passDist = scope.make(`${label}:window-dist`, total * 4);
    const passIds = scope.make(`${label}:window-ids`, total * 4);
    // Before window w: merge window w - 1's scores (none before the first), mask the candidates to w's rows.
    const step = (merge: number, lo: number, hi: number) => {
      const pu = uniformBuffer(ctx, `${label}:window-params`, new Uint32Array([total, lo, hi, merge]));
      scope.own(pu);
      encodePass(enc, 'refine_pass', passPipe, bindGroup(ctx, passPipe, `${label}-window`, [pu, cand, passDist, passIds, passCand, dist, ids]), groups);
    };
    wins.forEach((w, i) => {
      step(i === 0 ? 0 : 1, w.lo, w.hi);
      const chunks = rows.slice(w.firstChunk, w.endChunk);
      encodePass(enc, 'refine', pipes[i], bindGroup(ctx, pipes[i], `${label}[${w.lo}..${w.hi})`, [u, queries, chunks[0], passCand, passDist, passIds, ...chunks.slice(1)]), groups);
    });
    step(1, 0, 0);
    return { dist, ids };
  }

  /**
   * Top-k of every query. `countEvaluations` compiles the debug counter in and returns distance
   * evaluations per query (beam search only; the refine pass adds searchK each when it runs).
   */
  async search(queries: VectorSet, k: number, params: Partial<SearchParams> = {}, opts: { countEvaluations?: boolean; filter?: BeamFilterTable } = {}): Promise<Neighbors & { evaluations?: Uint32Array }> {
    if (queries.dim !== this.index.dim) throw new UserError(`queries: dimension ${queries.dim} does not match the index's ${this.index.dim}`);
    if (!Number.isInteger(k) || k < 1) throw new UserError(`k: must be a positive integer, got ${k}`);
    const p = this.resolve(k, params);
    const ctx = this.ctx;
    const count = opts.countEvaluations === true;
    const filtered = opts.filter !== undefined;
    if (filtered) {
      const need = BEAM_BINDINGS.length - 1 + FILTER_BINDINGS.length + this.layouts.base.chunks - 1 + this.layouts.graph.chunks - 1;
      const have = ctx.limits.maxStorageBuffersPerShaderStage;
      if (need > have) throw new UserError(`filtered search: the beam kernel binds ${need} storage buffers but this adapter allows ${have} per shader stage (maxStorageBuffersPerShaderStage)`);
    }
    const beamPipe = await this.pipeline(this.beamKernel(p, count, filtered ? p.filterTraversal : 0));
    const filterBufs = filtered ? [this.labelsBuffer(), storageBuffer(ctx, 'search:filters', opts.filter!.table)] : [];
    const refine = this.baseExact !== null && p.refine > 0;

    // The beam reads the queries in its codec's form (int8: code space; binary: rotated); the refine the f32 ones.
    const qdata = this.codec.prepareQueries && this.codecData
      ? this.codec.prepareQueries(queries.data, queries.n, queries.dim, this.dim4, this.index.metric, this.codecData.params)
      : padRows(queries, this.dim4).data;
    const qexact = refine && this.exactDim4 !== this.dim4 ? padRows(queries, this.exactDim4).data : null;
    const qpw = p.workgroupSize / p.teamSize;
    // Batches only split where one binding would overflow (queries or results).
    const maxBind = ctx.limits.maxStorageBufferBindingSize;
    const perQuery = Math.max(this.dim4 * 16, this.exactDim4 * 16, p.searchK * 4 * (refine ? 2 : 1));
    const batch = Math.max(1, Math.min(queries.n, Math.floor(maxBind / perQuery)));
    const ids = new Int32Array(queries.n * k);
    const distances = new Float32Array(queries.n * k);
    const evaluations = count ? new Uint32Array(queries.n) : undefined;
    for (let q0 = 0; q0 < queries.n; q0 += batch) {
      const nq = Math.min(batch, queries.n - q0);
      const scope = bufferScope(ctx);
      const mk = scope.make;
      try {
        const qbuf = mk('search:queries', qdata.subarray(q0 * this.dim4 * 4, (q0 + nq) * this.dim4 * 4));
        const outIds = mk('search:ids', nq * p.searchK * 4);
        const outDist = mk('search:dist', nq * p.searchK * 4);
        const evalBuf = mk('search:evals', count ? nq * 4 : 4);
        const u = uniformBuffer(ctx, 'search:params', new Uint32Array([nq, this.index.n, this.layer.ids.length, p.searchK, p.maxIterations, p.entryIterations, q0, 0]));
        const enc = ctx.device.createCommandEncoder({ label: 'search' });
        const groups = grid2d(ctx, 'beam_search', Math.ceil(nq / qpw), p.workgroupSize);
        encodePass(enc, 'beam_search', beamPipe, bindGroup(ctx, beamPipe, 'beam', [u, qbuf, this.baseSearch[0], this.graphBuf[0], this.entryBuf, outIds, outDist, evalBuf, ...filterBufs, ...this.baseSearch.slice(1), ...this.graphBuf.slice(1)]), groups);
        let resIds = outIds;
        let resDist = outDist;
        let stride = p.searchK;
        if (refine) {
          const qref = qexact ? mk('refine:queries', qexact.subarray(q0 * this.exactDim4 * 4, (q0 + nq) * this.exactDim4 * 4)) : qbuf;
          ({ dist: resDist, ids: resIds, stride } = await this.encodeRerank(enc, scope, 'refine', nq, p.searchK, k, qref, outIds));
        }
        ctx.device.queue.submit([enc.finish()]);
        const [ib, db] = await readBuffers(ctx, [resIds, resDist], nq * stride * 4);
        if (evaluations) evaluations.set(new Uint32Array((await readBuffers(ctx, [evalBuf], nq * 4))[0]), q0);
        u.destroy();
        const ii = new Uint32Array(ib);
        const dd = new Float32Array(db);
        for (let q = 0; q < nq; q++) {
          for (let j = 0; j < k; j++) {
            const v = ii[q * stride + j];
            ids[(q0 + q) * k + j] = v === NONE ? -1 : v;
            distances[(q0 + q) * k + j] = dd[q * stride + j];
          }
        }
      } finally {
        scope.destroy();
      }
    }
    filterBufs[1]?.destroy();
    return { ids, distances, nq: queries.n, k, ...(evaluations ? { evaluations } : {}) };
  }

  /** The index's labels as filter_labels.wgsl reads them (uploaded on the first filtered search; a word when unlabelled). */
  private labelsBuffer(): GPUBuffer {
    if (!this.labelBuf) {
      const l = this.index.labels;
      let words = new Uint32Array(1);
      if (l) {
        words = new Uint32Array(l.n + 1 + l.ids.length);
        for (let i = 0; i <= l.n; i++) words[i] = l.n + 1 + l.offsets[i];
        words.set(l.ids, l.n + 1);
      }
      this.labelBuf = storageBuffer(this.ctx, 'index:labels', words);
    }
    return this.labelBuf;
  }

  /** f32 rows at the query width, for exact distances (the refine rows; the search rows when they are f32), in their binding chunks. */
  exactRows(): GPUBuffer[] {
    if (this.baseExact) return this.baseExact;
    if (this.codec.name === 'f32') return this.baseSearch;
    this.exactBuf ??= storageBuffer(this.ctx, 'index:vectors-f32', padRows({ data: this.index.vectors, n: this.index.n, dim: this.index.dim }, this.dim4).data);
    return [this.exactBuf];
  }

  /** Kernel sources in use (the refine and select kernels serve exact distances over candidate lists too). */
  kernelSource(role: KernelRole): string {
    const src = this.sources[role];
    if (src === undefined) throw new Error(`search kernels: no source for role ${role}`);
    return src;
  }

  destroy(): void {
    for (const b of [...this.baseSearch, ...(this.baseExact ?? []), ...this.graphBuf]) b.destroy();
    this.entryBuf.destroy();
    this.labelBuf?.destroy();
    this.exactBuf?.destroy();
  }
}
