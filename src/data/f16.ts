/**
 * IEEE 754 binary16 <-> binary32, bit-exact: encoding rounds to nearest, ties to even, with
 * subnormals, overflow to infinity and NaN kept NaN; decoding is exact (every f16 is an f32).
 * Node 22 has neither Math.f16round nor Float16Array, hence this helper.
 */

/** The largest finite f16; beyond it (after rounding) f16 holds Infinity. */
export const F16_MAX = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f16 bit pattern nearest to v (round half to even). */
export function f32ToF16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e >= 1) {
    const m = mant >>> 13;
    const rem = mant & 0x1fff;
    let h = sign | (e << 10) | m;
    if (rem > 0x1000 || (rem === 0x1000 && (m & 1))) h++; // a carry into the exponent is right
    return h;
  }
  // Subnormal f16 (units of 2^-24): shift the full 24-bit significand down.
  const shift = 126 - exp;
  if (shift > 24) return sign; // below half the smallest subnormal
  const M = mant | 0x800000;
  const m = M >>> shift;
  const rem = M & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  let h = sign | m;
  if (rem > half || (rem === half && (m & 1))) h++;
  return h;
}

/** The f32 value of an f16 bit pattern. */
export function f16BitsToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1024 + m) * 2 ** (e - 25);
}

let table: Float32Array | null = null;

/** Decode a whole array (through a 64 Ki-entry table). */
export function f16ToF32Array(src: Uint16Array): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16BitsToF32(h);
  }
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return out;
}

/** Encode a whole array. */
export function f32ToF16Array(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]);
  return out;
}
