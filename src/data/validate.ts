/**
 * Range checks at the boundary, before any build, search or ground truth: every distance the
 * kernels compute is float32, and a squared distance that overflows to Infinity never enters a
 * top-k list (results come back as -1, graph builds cannot fill their lists). A storage codec
 * with a narrower range (f16: 65504) also turns every value beyond it into Infinity.
 */
import { UserError } from '../errors.ts';
import type { Metric, VectorSet } from './types.ts';
import { f16Codec } from './codecs/f16.ts';
import type { StorageCodec } from './codecs/storage-codec.ts';

export const F32_MAX = 3.4028234663852886e38;
export { F16_MAX } from './f16.ts';
/**
 * Largest squared row norm accepted. ||a - b||^2 <= 2||a||^2 + 2||b||^2 and |a.b| <= ||a|| ||b||,
 * so with every squared norm below F32_MAX / 8 every partial sum a kernel forms stays below F32_MAX / 2.
 */
export const MAX_SQUARED_NORM = F32_MAX / 8;

export interface ValueRange {
  /** Largest |value| and the row that holds it. */
  maxAbs: number;
  maxAbsRow: number;
  /** Largest squared row norm (summed in f64) and its row. */
  maxSquaredNorm: number;
  maxSquaredNormRow: number;
}

export function valueRange(set: VectorSet): ValueRange {
  const { data, n, dim } = set;
  const r: ValueRange = { maxAbs: 0, maxAbsRow: -1, maxSquaredNorm: 0, maxSquaredNormRow: -1 };
  for (let i = 0; i < n; i++) {
    let s = 0;
    let m = 0;
    for (let j = i * dim, end = j + dim; j < end; j++) {
      const v = data[j];
      s += v * v;
      const a = Math.abs(v);
      if (a > m) m = a;
    }
    if (m > r.maxAbs) { r.maxAbs = m; r.maxAbsRow = i; }
    if (s > r.maxSquaredNorm) { r.maxSquaredNorm = s; r.maxSquaredNormRow = i; }
  }
  return r;
}

/** UserError naming `label` and the worst row when float32 distances on this set could overflow. */
export function assertDistancesFit(set: VectorSet, metric: Metric, label: string): void {
  // Angular rows are unit length by the time any kernel sees them.
  if (metric === 'angular') return;
  const r = valueRange(set);
  if (r.maxSquaredNorm > MAX_SQUARED_NORM) {
    throw new UserError(
      `${label}: row ${r.maxSquaredNormRow} has squared norm ${r.maxSquaredNorm.toExponential(3)} (largest |value| ${r.maxAbs.toExponential(3)}), above the ${MAX_SQUARED_NORM.toExponential(2)} that float32 ${metric} distances can hold; scale the data down`,
    );
  }
}

/** Whether every value survives f16 storage (|v| <= 65504; beyond it f16 holds Infinity). */
export function fitsF16(set: VectorSet): { ok: boolean; maxAbs: number; row: number } {
  return fitsStorage(set, f16Codec);
}

/** Whether every value survives `codec` (|v| <= its maxAbs; a codec without one holds every f32). */
export function fitsStorage(set: VectorSet, codec: StorageCodec): { ok: boolean; maxAbs: number; row: number } {
  if (codec.maxAbs === undefined) return { ok: true, maxAbs: NaN, row: -1 };
  let maxAbs = 0;
  let row = -1;
  const { data, dim } = set;
  for (let j = 0; j < data.length; j++) {
    const a = Math.abs(data[j]);
    if (a > maxAbs) { maxAbs = a; row = Math.floor(j / dim); }
  }
  return { ok: maxAbs <= codec.maxAbs, maxAbs, row };
}

/** UserError when `codec`'s storage was asked for and `set` holds values beyond its range. */
export function assertStorageFits(set: VectorSet, codec: StorageCodec, label: string, flag = '--storage'): void {
  const f = fitsStorage(set, codec);
  if (!f.ok) {
    throw new UserError(`${flag} ${codec.name}: ${label} row ${f.row} holds |value| ${f.maxAbs.toExponential(3)}, beyond ${codec.name}'s largest finite ${codec.maxAbs} (it would become Infinity); use ${flag} f32`);
  }
}
