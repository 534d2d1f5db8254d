/**
 * int8 storage (scalar quantisation, SQ8 as in GLASS/CRINN and BrowserVec): per dimension j an
 * offset o_j and a half-range a_j trained on the base (its min and max), and a code
 * c_j = round(127 (x_j - o_j) / a_j) in -127..127, so x^_j = o_j + a_j c_j / 127 with
 * |x_j - x^_j| <= a_j / 254. Sixteen codes per vec4<u32>; shaders/base_int8.wgsl unpacks four at
 * once with unpack4x8snorm (core WGSL: c / 127).
 *
 * The loader never sees o or a: the query is moved into code space instead (prepareQueries), so a
 * distance is one multiply-add per dimension:
 *   l2:     |q - x^|^2 = |q - o|^2 - 2 <(q - o) * a, c / 127> + |a * c / 127|^2
 *   ip/ang: <q, x^>    = <q, o> + <q * a, c / 127>
 * Query row: qt (code dims, padded to 16), then one vec4 [|q - o|^2 or <q, o>, 0, 0, 0]. GPU row:
 * the codes, then one vec4<u32> [bits of |a * c / 127|^2, 0, 0, 0]. The loader derives the row's
 * width from the query's: (D4 - 1) / 4 code groups. The index keeps the f32 rows; the search
 * reranks its candidates on them (refine), so results carry exact f32 distances.
 */
import type { Metric } from '../types.ts';
import type { StorageCodec } from './storage-codec.ts';

/** Code dimensions: dim padded to 16 (one vec4<u32>). */
const codeDims = (dim: number): number => Math.ceil(dim / 16) * 16;

/** Params: Float32Array [offset (dim), half-range (dim)]. */
function params32(params: Uint8Array | undefined, dim: number): { offset: Float32Array; scale: Float32Array } {
  if (!params || params.byteLength !== dim * 8) throw new Error(`int8 codec: params must hold ${dim * 8} bytes (offset and scale per dimension), got ${params?.byteLength ?? 'none'}`);
  const f = new Float32Array(params.buffer.slice(params.byteOffset, params.byteOffset + params.byteLength));
  return { offset: f.subarray(0, dim), scale: f.subarray(dim) };
}

function train(values: Float32Array, n: number, dim: number): Uint8Array {
  const lo = new Float32Array(dim).fill(Infinity);
  const hi = new Float32Array(dim).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) {
      const v = values[i * dim + j];
      if (v < lo[j]) lo[j] = v;
      if (v > hi[j]) hi[j] = v;
    }
  }
  const out = new Float32Array(2 * dim);
  for (let j = 0; j < dim; j++) {
    if (!(lo[j] <= hi[j])) (lo[j] = 0), (hi[j] = 0);
    out[j] = (lo[j] + hi[j]) / 2;
    // A constant dimension codes as 0; any positive scale decodes it exactly.
    out[dim + j] = hi[j] > lo[j] ? (hi[j] - lo[j]) / 2 : 1;
  }
  return new Uint8Array(out.buffer);
}

/** The code of value v in dimension j: -127..127. */
function code(v: number, o: number, a: number): number {
  return Math.max(-127, Math.min(127, Math.round((127 * (v - o)) / a)));
}

/** The values the codes decode to (x^), row-major like `values`: the CPU reference of what the loader sees. */
export function int8Decoded(values: Float32Array, n: number, dim: number, params: Uint8Array): Float32Array {
  const { offset, scale } = params32(params, dim);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) out[i * dim + j] = offset[j] + (scale[j] * code(values[i * dim + j], offset[j], scale[j])) / 127;
  }
  return out;
}

/** The largest |x_j - x^_j| of dimension j: half a code step. */
export function int8StepBound(params: Uint8Array, dim: number): Float32Array {
  const { scale } = params32(params, dim);
  return scale.map((a) => a / 254);
}

function packRows(values: Float32Array, n: number, dim: number, dim4: number, params?: Uint8Array): Uint32Array {
  const { offset, scale } = params32(params, dim);
  const groups = (dim4 - 1) / 4;
  if (groups !== codeDims(dim) / 16) throw new Error(`int8 codec: D4 ${dim4} does not fit dim ${dim}`);
  const rowU32 = (groups + 1) * 4;
  const out = new Uint32Array(n * rowU32);
  const bytes = new Int8Array(out.buffer);
  const extra = new Float32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const c = code(values[i * dim + j], offset[j], scale[j]);
      // Byte j of the row: unpack4x8snorm reads byte 0 of each u32 as component x (little-endian).
      bytes[i * rowU32 * 4 + j] = c;
      const d = (scale[j] * c) / 127;
      norm += d * d;
    }
    extra[i * rowU32 + groups * 4] = norm;
  }
  return out;
}

function prepareQueries(queries: Float32Array, nq: number, dim: number, dim4: number, metric: Metric, params: Uint8Array): Float32Array {
  const { offset, scale } = params32(params, dim);
  const out = new Float32Array(nq * dim4 * 4);
  for (let q = 0; q < nq; q++) {
    const row = q * dim4 * 4;
    let c = 0;
    for (let j = 0; j < dim; j++) {
      const v = queries[q * dim + j];
      if (metric === 'l2') {
        const d = v - offset[j];
        out[row + j] = d * scale[j];
        c += d * d;
      } else {
        out[row + j] = v * scale[j];
        c += v * offset[j];
      }
    }
    out[row + (dim4 - 1) * 4] = c;
  }
  return out;
}

export const int8Codec: StorageCodec = {
  name: 'int8',
  fileCode: 2,
  // The vector section holds the f32 rows the rerank reads; the codes live in the codec section.
  fileRowBytes: (dim) => dim * 4,
  encode: (values) => values,
  decode: (bytes) => new Float32Array(bytes),
  round: (values) => values,
  rowVec4s: (dim) => codeDims(dim) / 4 + 1,
  packRows,
  train: (values, n, dim) => train(values, n, dim),
  prepareQueries,
  rowLoader: { role: 'baseInt8', file: 'base_int8.wgsl' },
  needsRefine: true,
  refineFactor: 2,
  shaderFeatures: [],
};
