/**
 * f16 storage: IEEE binary16, round to nearest even (../f16.ts); half the bytes of f32. The row
 * loader (shaders/base_f16.wgsl) reads eight dimensions per load with unpack2x16float, which needs
 * no shader-f16 feature; results are reranked in f32 (GLASS, CAGRA).
 */
import { F16_MAX, f16ToF32Array, f32ToF16Array, f32ToF16Bits } from '../f16.ts';
import type { StorageCodec } from './storage-codec.ts';

/** Rows padded to `dim4 * 4` halves (dim4 even: base_f16.wgsl reads eight per load), packed two per u32 (low half first). */
export function packRowsF16(data: Float32Array, n: number, dim: number, dim4: number): Uint32Array {
  const out = new Uint32Array(n * dim4 * 2);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j += 2) {
      const lo = f32ToF16Bits(data[i * dim + j]);
      const hi = j + 1 < dim ? f32ToF16Bits(data[i * dim + j + 1]) : 0;
      out[i * dim4 * 2 + (j >> 1)] = (lo | (hi << 16)) >>> 0;
    }
  }
  return out;
}

export const f16Codec: StorageCodec = {
  name: 'f16',
  fileCode: 1,
  fileRowBytes: (dim) => dim * 2,
  encode: (values) => f32ToF16Array(values),
  decode: (bytes) => f16ToF32Array(new Uint16Array(bytes)),
  round: (values) => f16ToF32Array(f32ToF16Array(values)),
  // Eight dimensions per load: rows pad to a multiple of 8.
  rowVec4s: (dim) => Math.ceil(dim / 4) + (Math.ceil(dim / 4) % 2),
  packRows: packRowsF16,
  rowLoader: { role: 'baseF16', file: 'base_f16.wgsl' },
  needsRefine: true,
  maxAbs: F16_MAX,
  shaderFeatures: [],
};
