import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f16ToF32Array, f32ToF16Array, f32ToF16Bits } from '../../src/data/f16.ts';

describe('f16 conversion', () => {
  it('round-trips every f16 bit pattern', () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToF32(h);
      const back = f32ToF16Bits(v);
      if (Number.isNaN(v)) expect(back & 0x7c00).toBe(0x7c00);
      else expect(back).toBe(h);
    }
  });

  it('rounds to nearest, ties to even', () => {
    for (let h = 0; h < 0x7bff; h += 7) {
      const a = f16BitsToF32(h);
      const b = f16BitsToF32(h + 1);
      const mid = (a + b) / 2;
      expect(f32ToF16Bits(mid)).toBe(h & 1 ? h + 1 : h);
      expect(f32ToF16Bits(Math.fround(a + (b - a) * 0.25))).toBe(h);
      expect(f32ToF16Bits(Math.fround(a + (b - a) * 0.75))).toBe(h + 1);
    }
  });

  it('handles the edges', () => {
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // the tie rounds to even: infinity
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(2 ** -24)).toBe(1);
    expect(f32ToF16Bits(2 ** -25)).toBe(0);
    expect(f32ToF16Bits(2 ** -25 * 1.5)).toBe(1);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
    const arr = new Float32Array([1, -2.5, 0.1, 3e-6]);
    const back = f16ToF32Array(f32ToF16Array(arr));
    expect(Array.from(back)).toEqual(Array.from(arr).map((v) => f16BitsToF32(f32ToF16Bits(v))));
  });
});
