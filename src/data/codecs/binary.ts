/**
 * binary storage: one bit per dimension after a random rotation, with RaBitQ's distance estimate
 * (Gao & Long, SIGMOD 2024). Trained on the base: the centroid c and a seeded rotation R of
 * D' = max(128, next power of 2 >= dim) dimensions (three rounds of random signs and a normalised
 * Walsh-Hadamard transform: orthogonal, O(D' log D'), the rotator RaBitQ's own library offers
 * beside dense matrices). A row x: r = x - c, u = R r / |r|, bits b_j = [u_j > 0]; the quantised
 * unit vector is x- = sign(u) / sqrt(D'), and <x-, u> = sum |u_j| / sqrt(D').
 *
 * Estimate (RaBitQ, eq. 9): <u, y> ~ <x-, R y> / <x-, u> for any y, unbiased, with
 *   |estimate - <u, y>| <= |y| sqrt(1 - <x-, u>^2) / <x-, u> * eps0 / sqrt(D' - 1)
 * with probability >= 1 - 2 exp(-c0 eps0^2) (Theorem 3.2; eps0 = 1.9 in the paper's experiments).
 * So with f = |r| / sum |u_j| (per row) and qt = R y (per query):
 *   <r, y> ~ f * sum_j sign(u_j) qt_j = f * (2 sum_{b_j = 1} qt_j - sum_j qt_j)
 *   l2:     |q - x|^2 = |r|^2 + |q - c|^2 - 2 <r, q - c>   (y = q - c)
 *   ip/ang: <q, x>    = <q, c> + <r, q>                     (y = q)
 * The query stays f32 (no 4-bit query quantisation: no error beyond the bound above; the popcount
 * form with a quantised query is a rewrite the loop may find). Query row: qt (D' values), then one
 * vec4 [|q - c|^2 or <q, c>, sum_j qt_j, 0, 0]. GPU row: D' / 128 vec4<u32> of bits, then one
 * vec4<u32> [bits of |r|^2, bits of f, 0, 0]. shaders/base_binary.wgsl adds the query values of
 * the set bits. The estimates only steer the beam search; the refine pass reranks the candidates
 * on the f32 rows the index keeps, so results carry exact distances.
 */
import type { Metric } from '../types.ts';
import type { StorageCodec } from './storage-codec.ts';

const ROUNDS = 3;
/** RaBitQ's eps0: the confidence of the error bound (its experiments' value). */
export const BINARY_EPS0 = 1.9;

/** Rotated dimensions D': a power of two, at least one vec4<u32> of bits. */
export function binaryDims(dim: number): number {
  let d = 128;
  while (d < dim) d *= 2;
  return d;
}

interface BinaryParams {
  dp: number;
  centroid: Float32Array;
  /** ROUNDS x D' signs (+1 / -1). */
  signs: Float32Array;
}

/** Params: Float32Array [D', centroid (dim), signs (ROUNDS x D')]. */
function parse(params: Uint8Array | undefined, dim: number): BinaryParams {
  const dp = binaryDims(dim);
  const want = 4 * (1 + dim + ROUNDS * dp);
  if (!params || params.byteLength !== want) throw new Error(`binary codec: params must hold ${want} bytes (D', centroid, rotation signs), got ${params?.byteLength ?? 'none'}`);
  const f = new Float32Array(params.buffer.slice(params.byteOffset, params.byteOffset + params.byteLength));
  if (f[0] !== dp) throw new Error(`binary codec: params are for ${f[0]} rotated dimensions, dim ${dim} needs ${dp}`);
  return { dp, centroid: f.subarray(1, 1 + dim), signs: f.subarray(1 + dim) };
}

/** A small seeded generator (splitmix32): the rotation must be the same wherever the params are trained. */
function signStream(seed: number): () => number {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) & 1 ? 1 : -1;
  };
}

/** In-place normalised fast Walsh-Hadamard transform (length a power of two). */
function fwht(v: Float64Array): void {
  const n = v.length;
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = v[j];
        const b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
    }
  }
  const s = 1 / Math.sqrt(n);
  for (let i = 0; i < n; i++) v[i] *= s;
}

/** R v in place (v of length D'): ROUNDS x (signs, Hadamard). */
function rotate(v: Float64Array, p: BinaryParams): void {
  for (let r = 0; r < ROUNDS; r++) {
    for (let j = 0; j < p.dp; j++) v[j] *= p.signs[r * p.dp + j];
    fwht(v);
  }
}

function train(values: Float32Array, n: number, dim: number, seed: number): Uint8Array {
  const dp = binaryDims(dim);
  const out = new Float32Array(1 + dim + ROUNDS * dp);
  out[0] = dp;
  const c = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) c[j] += values[i * dim + j];
  for (let j = 0; j < dim; j++) out[1 + j] = n ? c[j] / n : 0;
  const next = signStream(seed);
  for (let i = 0; i < ROUNDS * dp; i++) out[1 + dim + i] = next();
  return new Uint8Array(out.buffer);
}

/** Per row: the rotated residual's signs and the two factors the loader needs. */
export interface BinaryRow {
  bits: Uint32Array;
  /** |r|^2 */
  norm2: number;
  /** f = |r| / sum |u_j| (0 for r = 0) */
  factor: number;
  /** <x-, u> (1 for r = 0): the bound's per-row term. */
  xu: number;
}

export function binaryEncodeRow(x: Float32Array, dim: number, params: Uint8Array): BinaryRow {
  const p = parse(params, dim);
  const v = new Float64Array(p.dp);
  let norm2 = 0;
  for (let j = 0; j < dim; j++) {
    v[j] = x[j] - p.centroid[j];
    norm2 += v[j] * v[j];
  }
  rotate(v, p);
  const bits = new Uint32Array(p.dp / 32);
  let abs = 0;
  for (let j = 0; j < p.dp; j++) {
    if (v[j] > 0) bits[j >> 5] |= 1 << (j & 31);
    abs += Math.abs(v[j]);
  }
  const norm = Math.sqrt(norm2);
  // abs = sum |R r|_j = |r| sum |u_j|, so f = |r| / sum |u_j| = |r|^2 / abs, and <x-, u> = abs / (|r| sqrt(D')).
  return { bits, norm2, factor: norm2 > 0 ? norm2 / abs : 0, xu: norm2 > 0 ? abs / (norm * Math.sqrt(p.dp)) : 1 };
}

function packRows(values: Float32Array, n: number, dim: number, dim4: number, params?: Uint8Array): Uint32Array {
  const p = parse(params, dim);
  const groups = p.dp / 128;
  if (dim4 !== p.dp / 4 + 1) throw new Error(`binary codec: D4 ${dim4} does not fit dim ${dim}`);
  const rowU32 = (groups + 1) * 4;
  const out = new Uint32Array(n * rowU32);
  const f = new Float32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const r = binaryEncodeRow(values.subarray(i * dim, (i + 1) * dim), dim, params!);
    out.set(r.bits, i * rowU32);
    f[i * rowU32 + groups * 4] = r.norm2;
    f[i * rowU32 + groups * 4 + 1] = r.factor;
  }
  return out;
}

function prepareQueries(queries: Float32Array, nq: number, dim: number, dim4: number, metric: Metric, params: Uint8Array): Float32Array {
  const p = parse(params, dim);
  const out = new Float32Array(nq * dim4 * 4);
  const v = new Float64Array(p.dp);
  for (let q = 0; q < nq; q++) {
    v.fill(0);
    let c = 0;
    for (let j = 0; j < dim; j++) {
      const x = queries[q * dim + j];
      if (metric === 'l2') {
        v[j] = x - p.centroid[j];
        c += v[j] * v[j];
      } else {
        v[j] = x;
        c += x * p.centroid[j];
      }
    }
    rotate(v, p);
    let sum = 0;
    for (let j = 0; j < p.dp; j++) {
      out[q * dim4 * 4 + j] = v[j];
      sum += v[j];
    }
    out[q * dim4 * 4 + p.dp] = c;
    out[q * dim4 * 4 + p.dp + 1] = sum;
  }
  return out;
}

/**
 * The CPU reference of the loader's distance for one prepared query row (dim4 x 4 floats) and one
 * packed row, in the metric's units (l2: squared; ip: -dot; angular: 1 - dot), and the RaBitQ bound
 * on its error against the exact distance to the f32 row at confidence eps0.
 */
export function binaryEstimate(query: Float32Array, row: BinaryRow, dp: number, metric: Metric, eps0 = BINARY_EPS0): { distance: number; bound: number } {
  let set = 0;
  let yy = 0;
  for (let j = 0; j < dp; j++) {
    if (row.bits[j >> 5] & (1 << (j & 31))) set += query[j];
    yy += query[j] * query[j];
  }
  const rq = row.factor * (2 * set - query[dp + 1]);
  // Bound on <r, y> = |r| |y| x (bound on <u, y / |y|>).
  const err = Math.sqrt(row.norm2) * Math.sqrt(yy) * (Math.sqrt(Math.max(0, 1 - row.xu * row.xu)) / row.xu) * (eps0 / Math.sqrt(dp - 1));
  const c = query[dp];
  if (metric === 'l2') return { distance: row.norm2 + c - 2 * rq, bound: 2 * err };
  const dot = c + rq;
  return { distance: metric === 'ip' ? -dot : 1 - dot, bound: err };
}

export const binaryCodec: StorageCodec = {
  name: 'binary',
  fileCode: 3,
  // The vector section holds the f32 rows the rerank reads; the codes live in the codec section.
  fileRowBytes: (dim) => dim * 4,
  encode: (values) => values,
  decode: (bytes) => new Float32Array(bytes),
  round: (values) => values,
  rowVec4s: (dim) => binaryDims(dim) / 4 + 1,
  packRows,
  train,
  prepareQueries,
  rowLoader: { role: 'baseBinary', file: 'base_binary.wgsl' },
  needsRefine: true,
  // One bit per dimension ranks coarsely: the rerank looks further down the list.
  refineFactor: 8,
  shaderFeatures: [],
};
