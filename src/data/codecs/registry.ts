/**
 * The storage codecs by name (storage-codec.ts): f32, f16, int8 and binary built in; registerCodec adds one
 * (a codec file and its WGSL row loader, docs/ARCHITECTURE.md "Where to add: a codec").
 */
import { UserError } from '../../errors.ts';
import { f16Codec } from './f16.ts';
import { f32Codec } from './f32.ts';
import { int8Codec } from './int8.ts';
import { binaryCodec } from './binary.ts';
import type { CodecData, StorageCodec, VectorStorage } from './storage-codec.ts';

export type { CodecData, StorageCodec, VectorStorage } from './storage-codec.ts';

const CODECS = new Map<string, StorageCodec>([f32Codec, f16Codec, int8Codec, binaryCodec].map((c) => [c.name, c]));

/** The seed a codec's params are trained with when the caller gives none (the build's seed otherwise). */
export const DEFAULT_CODEC_SEED = 1;

/**
 * A trained codec's params and codes for these f32 rows (undefined for f32, f16: their GPU rows are
 * packed from the values alone). buildIndex stores the result; a searcher given an index without it
 * (the evaluator's child re-coding an index for a module's codec) trains the same way.
 */
export function trainCodec(codec: StorageCodec, values: Float32Array, n: number, dim: number, seed = DEFAULT_CODEC_SEED): CodecData | undefined {
  if (!codec.train) return undefined;
  const params = codec.train(values, n, dim, seed);
  const packed = codec.packRows(values, n, dim, codec.rowVec4s(dim), params);
  return { params, codes: new Uint32Array(packed.buffer, packed.byteOffset, packed.byteLength / 4) };
}

/** Bytes one row of `dim` values takes on the GPU as the beam search reads it (the codes, for a trained codec). */
export function searchRowBytes(codec: StorageCodec, dim: number, n = 1): number {
  const probe = new Float32Array(n * dim);
  if (!codec.train) return codec.packRows(probe, n, dim, codec.rowVec4s(dim)).byteLength / n;
  return (trainCodec(codec, probe, n, dim)?.codes.byteLength ?? 0) / n;
}

/** Adds `codec`; its name and file code must be new (a second registration of the same object is a no-op). */
export function registerCodec(codec: StorageCodec): StorageCodec {
  const same = CODECS.get(codec.name);
  if (same === codec) return codec;
  if (same) throw new Error(`registerCodec: a codec named '${codec.name}' exists`);
  const clash = [...CODECS.values()].find((c) => c.fileCode === codec.fileCode);
  if (clash) throw new Error(`registerCodec: '${codec.name}' takes file code ${codec.fileCode}, which '${clash.name}' has`);
  CODECS.set(codec.name, codec);
  return codec;
}

/** Registered codec names, built-ins first. */
export function codecNames(): VectorStorage[] {
  return [...CODECS.keys()];
}

/** Every registered codec, built-ins first. */
export function codecs(): StorageCodec[] {
  return [...CODECS.values()];
}

/** The codec called `name`; a UserError naming `what` (the option or field) and the allowed names otherwise. */
export function codecFor(name: unknown, what = 'storage'): StorageCodec {
  const c = typeof name === 'string' ? CODECS.get(name) : undefined;
  if (!c) throw new UserError(`${what}: unknown vector storage '${String(name)}'; allowed: ${codecNames().join(', ')}`);
  return c;
}

/** The codec an index file's storage field names, or undefined. */
export function codecOfFileCode(code: number): StorageCodec | undefined {
  return [...CODECS.values()].find((c) => c.fileCode === code);
}
