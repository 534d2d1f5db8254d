import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { updateHash } from '../../src/data/hash-bytes.ts';

describe('updateHash (slices for inputs over 2 GiB)', () => {
  it('gives the digest of one update whatever the slice size, the last slice short', () => {
    const bytes = new Uint8Array(1000).map((_, i) => (i * 37) & 255);
    const whole = createHash('sha256').update(bytes).digest('hex');
    for (const slice of [1, 7, 999, 1000, 4096]) expect(updateHash(createHash('sha256'), bytes, slice).digest('hex'), `slice ${slice}`).toBe(whole);
    expect(updateHash(createHash('sha256'), bytes.subarray(0, 0)).digest('hex')).toBe(createHash('sha256').digest('hex'));
  });
});
