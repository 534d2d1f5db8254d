import { UserError } from '../errors.ts';
import type { GpuContext } from '../gpu/device.ts';
import { bindGroup, readBuffers, storageBuffer, uniformBuffer } from '../gpu/buffers.ts';
import { encodePass, grid2d } from '../gpu/dispatch.ts';
import { kernelPipeline } from '../gpu/pipeline.ts';
import { shaderSource } from '../gpu/shader.ts';
import { withConst } from '../gpu/kernel-text.ts';
import type { Kernel } from '../gpu/kernel-text.ts';
import { METRIC_CODE, type Metric, type Neighbors, type VectorSet } from './types.ts';
// Node-free row padding and select specialisation, shared with the browser loader.
import { padRows, selectKernelFrom, selectListLength } from '../gpu/kernel-text.ts';

export { padRows, selectListLength };

/** The largest k the selection kernel is specialised for; its private lists live in registers/stack. */
export const MAX_EXACT_K = 1024;
/** Lists merged per reduction pass after the first. */
const FAN_IN = 8;

export interface ExactKnnTuning {
  /** Invocations per workgroup of the distance kernel; each holds 8 queries. */
  workgroupSize: number;
  /** Base rows each distance invocation streams past its 8 queries. */
  strip: number;
  /** Entries per segment in the first selection pass. */
  firstSegment: number;
  /** Upper bound on one distance block (bytes): trades parallelism against cache footprint. */
  blockBytes: number;
}

export const DEFAULT_EXACT_TUNING: ExactKnnTuning = { workgroupSize: 64, strip: 16, firstSegment: 1024, blockBytes: 16 << 20 };

function distanceKernel(t: ExactKnnTuning, dim4: number): Kernel {
  return {
    name: 'knn_distances',
    cacheKey: `d4=${dim4}`,
    source: withConst(shaderSource('knn_distances.wgsl'), 'D4', dim4),
    constants: { WG: t.workgroupSize, STRIP: t.strip },
  };
}

function maskKernel(): Kernel {
  return { name: 'knn_mask', cacheKey: 'mask', source: shaderSource('knn_mask.wgsl'), constants: { WG: 64 } };
}

/**
 * A filter per query for the exact search, as bitmaps over base ids: query q passes base row i
 * when bit i & 31 of word i >> 5 of bitmaps[rowOf[q]] is set. Queries may share a bitmap.
 */
export interface ExactFilter {
  bitmaps: readonly Uint32Array[];
  rowOf: Uint32Array;
}

export function selectKernel(K: number): Kernel {
  return selectKernelFrom(shaderSource('topk_select.wgsl'), K);
}

/**
 * Brute-force kNN on the GPU: base uploaded once (in chunks that fit one storage binding),
 * queries streamed in blocks; a distance pass per (query block, base chunk), then top-k
 * selection passes that never leave the GPU. Ids ascend on ties.
 */
export class GpuBruteForce {
  readonly ctx: GpuContext;
  readonly metric: Metric;
  readonly n: number;
  readonly dim: number;
  private readonly dim4: number;
  private readonly chunks: { start: number; rows: number; buffer: GPUBuffer }[] = [];
  private readonly tuning: ExactKnnTuning;

  constructor(ctx: GpuContext, base: VectorSet, metric: Metric, tuning: Partial<ExactKnnTuning> = {}) {
    this.ctx = ctx;
    this.metric = metric;
    this.n = base.n;
    this.dim = base.dim;
    this.tuning = { ...DEFAULT_EXACT_TUNING, ...tuning };
    const { data, dim4 } = padRows(base);
    this.dim4 = dim4;
    const rowBytes = dim4 * 16;
    const maxRows = Math.floor(ctx.limits.maxStorageBufferBindingSize / rowBytes);
    if (maxRows < 4) throw new UserError(`base: one row of ${rowBytes} bytes does not fit this adapter's maxStorageBufferBindingSize ${ctx.limits.maxStorageBufferBindingSize}`);
    // Chunks also bound the distance block: at least 4 query rows of it must fit the block budget.
    const chunkRows = Math.max(4, Math.min(maxRows, Math.floor(this.tuning.blockBytes / 16)));
    for (let start = 0; start < base.n; start += chunkRows) {
      const rows = Math.min(chunkRows, base.n - start);
      const view = data.subarray(start * dim4 * 4, (start + rows) * dim4 * 4);
      this.chunks.push({ start, rows, buffer: storageBuffer(ctx, `base[${start}..${start + rows})`, view) });
    }
  }

  /**
   * Exact top-k of every query; with `filter`, among the base rows its filter passes only (ids -1,
   * distances +inf-like past the rows that pass when fewer than k do).
   */
  async search(queries: VectorSet, k: number, filter?: ExactFilter): Promise<Neighbors> {
    if (queries.dim !== this.dim) throw new UserError(`queries: dimension ${queries.dim} does not match the base's ${this.dim}`);
    if (!Number.isInteger(k) || k < 1) throw new UserError(`k: must be a positive integer, got ${k}`);
    if (k > this.n) throw new UserError(`k: ${k} is larger than the base (${this.n} vectors)`);
    if (k > MAX_EXACT_K) throw new UserError(`k: ${k} exceeds the largest supported k ${MAX_EXACT_K}`);
    const ctx = this.ctx;
    const K = selectListLength(k);
    const t = this.tuning;
    const [distPipe, selPipe] = await Promise.all([kernelPipeline(ctx, distanceKernel(t, this.dim4)), kernelPipeline(ctx, selectKernel(K))]);
    const maskPipe = filter ? await kernelPipeline(ctx, maskKernel()) : null;

    const { data: qdata } = padRows(queries);
    const maxChunk = Math.max(...this.chunks.map((c) => c.rows));
    const byBudget = Math.floor(t.blockBytes / (maxChunk * 4));
    const byBinding = Math.floor(ctx.limits.maxStorageBufferBindingSize / (maxChunk * 4));
    const qBlock = Math.max(4, Math.min(queries.n, byBudget, byBinding));

    const nChunks = this.chunks.length;
    const firstSegs = Math.ceil(maxChunk / Math.max(K, t.firstSegment));
    const tmpEntries = qBlock * Math.max(firstSegs, Math.ceil(nChunks / FAN_IN) + 1) * K;
    const owned: GPUBuffer[] = [];
    const mk = (label: string, size: number | ArrayBufferView) => {
      const b = storageBuffer(ctx, label, size);
      owned.push(b);
      return b;
    };
    const distBuf = mk('knn:dist', qBlock * maxChunk * 4);
    const tmp = [0, 1].map((i) => ({ d: mk(`knn:tmpd${i}`, tmpEntries * 4), i: mk(`knn:tmpi${i}`, tmpEntries * 4) }));
    const cand = { d: mk('knn:candd', qBlock * nChunks * K * 4), i: mk('knn:candi', qBlock * nChunks * K * 4) };
    const outBuf = { d: mk('knn:outd', qBlock * K * 4), i: mk('knn:outi', qBlock * K * 4) };
    const dummyIds = mk('knn:noids', 16);
    const maskBuf = filter ? mk('knn:mask', packMask(filter, queries.n, this.n)) : null;

    const ids = new Int32Array(queries.n * k);
    const distances = new Float32Array(queries.n * k);
    try {
      for (let q0 = 0; q0 < queries.n; q0 += qBlock) {
        const nq = Math.min(qBlock, queries.n - q0);
        const qbuf = storageBuffer(ctx, `queries[${q0}..${q0 + nq})`, qdata.subarray(q0 * this.dim4 * 4, (q0 + nq) * this.dim4 * 4));
        owned.push(qbuf);
        const enc = ctx.device.createCommandEncoder({ label: 'exact-knn' });
        const uniforms: GPUBuffer[] = [];
        const select = (src: { d: GPUBuffer; i: GPUBuffer | null }, dst: { d: GPUBuffer; i: GPUBuffer }, p: number[]) => {
          const u = uniformBuffer(ctx, 'topk:params', new Uint32Array([...p, 0, 0, 0]));
          uniforms.push(u);
          const tasks = p[0] * p[3];
          const groups = grid2d(ctx, 'topk_select', Math.ceil(tasks / 64), 64);
          encodePass(enc, 'topk_select', selPipe, bindGroup(ctx, selPipe, 'topk', [u, src.d, src.i ?? dummyIds, dst.d, dst.i]), groups);
        };
        /** Reduces rows of `len` entries to one sorted K-list each, written into dst at column `dstOffset`. */
        const reduce = (src: { d: GPUBuffer; i: GPUBuffer | null }, len: number, inStride: number, idBase: number, dst: { d: GPUBuffer; i: GPUBuffer }, dstStride: number, dstOffset: number) => {
          let segLen = src.i ? FAN_IN * K : Math.max(K, t.firstSegment);
          let ping = 0;
          for (;;) {
            const segs = Math.ceil(len / segLen);
            const explicit = src.i ? 1 : 0;
            if (segs === 1) {
              select(src, dst, [nq, len, segLen, 1, inStride, dstStride, dstOffset, idBase, explicit]);
              return;
            }
            const out = tmp[ping];
            select(src, out, [nq, len, segLen, segs, inStride, segs * K, 0, idBase, explicit]);
            src = out;
            len = segs * K;
            inStride = segs * K;
            segLen = FAN_IN * K;
            ping ^= 1;
          }
        };
        for (let c = 0; c < nChunks; c++) {
          const chunk = this.chunks[c];
          const u = uniformBuffer(ctx, 'knn:params', new Uint32Array([nq, chunk.rows, METRIC_CODE[this.metric], this.dim4]));
          uniforms.push(u);
          const gx = Math.ceil(chunk.rows / (t.strip * t.workgroupSize));
          const gy = Math.ceil(nq / 8);
          ctx.checkDispatch('knn_distances', t.workgroupSize, [gx, gy]);
          encodePass(enc, 'knn_distances', distPipe, bindGroup(ctx, distPipe, 'knn', [u, qbuf, chunk.buffer, distBuf]), [gx, gy]);
          if (maskPipe) {
            const um = uniformBuffer(ctx, 'knn:mask-params', new Uint32Array([nq, chunk.rows, chunk.start, q0]));
            uniforms.push(um);
            encodePass(enc, 'knn_mask', maskPipe, bindGroup(ctx, maskPipe, 'knn-mask', [um, maskBuf!, distBuf]), grid2d(ctx, 'knn_mask', Math.ceil((nq * chunk.rows) / 64), 64));
          }
          if (nChunks === 1) reduce({ d: distBuf, i: null }, chunk.rows, chunk.rows, chunk.start, outBuf, K, 0);
          else reduce({ d: distBuf, i: null }, chunk.rows, chunk.rows, chunk.start, cand, nChunks * K, c * K);
        }
        if (nChunks > 1) reduce(cand, nChunks * K, nChunks * K, 0, outBuf, K, 0);
        ctx.device.queue.submit([enc.finish()]);
        const [db, ib] = await readBuffers(ctx, [outBuf.d, outBuf.i], nq * K * 4);
        const dd = new Float32Array(db);
        const ii = new Int32Array(ib);
        for (let q = 0; q < nq; q++) {
          distances.set(dd.subarray(q * K, q * K + k), (q0 + q) * k);
          ids.set(ii.subarray(q * K, q * K + k), (q0 + q) * k);
        }
        // Masked rows: no neighbour.
        if (filter) for (let j = q0 * k; j < (q0 + nq) * k; j++) if (distances[j] >= MASKED) ids[j] = -1;
        for (const u of uniforms) u.destroy();
        qbuf.destroy();
      }
    } finally {
      for (const b of owned) b.destroy();
    }
    return { ids, distances, nq: queries.n, k };
  }

  destroy(): void {
    for (const c of this.chunks) c.buffer.destroy();
    this.chunks.length = 0;
  }
}

/** Masked rows come back as knn_mask.wgsl FAR (3e38); anything this large is one. */
const MASKED = 1e38;

/** knn_mask.wgsl's one binding: per query its bitmap's word offset, then the bitmaps. */
function packMask(f: ExactFilter, nq: number, n: number): Uint32Array {
  const words = Math.ceil(n / 32);
  if (f.rowOf.length !== nq) throw new UserError(`filter: ${f.rowOf.length} bitmap rows for ${nq} queries`);
  const out = new Uint32Array(nq + f.bitmaps.length * words);
  f.bitmaps.forEach((b, i) => {
    if (b.length !== words) throw new UserError(`filter: bitmap ${i} has ${b.length} words, expected ceil(n / 32) = ${words}`);
    out.set(b, nq + i * words);
  });
  for (let q = 0; q < nq; q++) {
    const r = f.rowOf[q];
    if (r >= f.bitmaps.length) throw new UserError(`filter: query ${q} names bitmap ${r} of ${f.bitmaps.length}`);
    out[q] = nq + r * words;
  }
  return out;
}

/** One-shot exact kNN on the GPU (with `filter`: among each query's passing rows). */
export async function gpuExactKnn(ctx: GpuContext, base: VectorSet, queries: VectorSet, k: number, metric: Metric, tuning?: Partial<ExactKnnTuning>, filter?: ExactFilter): Promise<Neighbors> {
  const bf = new GpuBruteForce(ctx, base, metric, tuning);
  try {
    return await bf.search(queries, k, filter);
  } finally {
    bf.destroy();
  }
}
