/**
 * The storage codecs by name (storage-codec.ts): f32 and f16 built in; registerCodec adds one
 * (a codec file and its WGSL row loader, docs/ARCHITECTURE.md "Where to add: a codec").
 */
import { UserError } from '../../errors.ts';
import { f16Codec } from './f16.ts';
import { f32Codec } from './f32.ts';
import type { StorageCodec, VectorStorage } from './storage-codec.ts';

export type { StorageCodec, VectorStorage } from './storage-codec.ts';

const CODECS = new Map<string, StorageCodec>([f32Codec, f16Codec].map((c) => [c.name, c]));

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
