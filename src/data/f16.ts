/** IEEE binary16 conversion, round to nearest even (Node 22 has no Float16Array). */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // may carry into the exponent: correct
  return sign | half;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Rows padded to `dim4 * 4` halves, packed two per u32 (little half first), as unpack2x16float reads them. */
export function packRowsF16(data: Float32Array, n: number, dim: number, dim4: number): Uint32Array {
  const out = new Uint32Array(n * dim4 * 2);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j += 2) {
      const lo = f32ToF16Bits(data[i * dim + j]);
      const hi = j + 1 < dim ? f32ToF16Bits(data[i * dim + j + 1]) : 0;
      out[i * dim4 * 2 + (j >> 1)] = lo | (hi << 16);
    }
  }
  return out;
}
