/**
 * Feeds large byte ranges to a Node hash in slices: one `update()` over more than 2 GiB throws
 * "data is too long", and a 1M x 768 f32 base (dataset fingerprint, ground-truth key) or an f32
 * index file's payload is 3 GB.
 */
import type { Hash } from 'node:crypto';

const SLICE = 1 << 30;

/** `hash.update(bytes)` in slices of at most `slice` bytes (1 GiB); returns the hash for chaining. */
export function updateHash(hash: Hash, bytes: Uint8Array, slice = SLICE): Hash {
  for (let o = 0; o < bytes.byteLength; o += slice) hash.update(bytes.subarray(o, Math.min(bytes.byteLength, o + slice)));
  return hash;
}
