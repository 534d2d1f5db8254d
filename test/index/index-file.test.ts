import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../src/index/f16.ts';
import { loadIndex, saveIndex, type Index } from '../../src/index/index-file.ts';
import { resolveBuildParams } from '../../src/index/params.ts';
import { gaussianMixture } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'crinn-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sampleIndex(storage: 'f32' | 'f16', dim = 13): Index {
  const n = 300;
  const base = gaussianMixture(n, dim, 4, 0.5, 1);
  const degree = 8;
  const neighbors = new Uint32Array(n * degree);
  for (let i = 0; i < neighbors.length; i++) neighbors[i] = (i * 7919) % n;
  neighbors[5] = 0xffffffff;
  return {
    metric: 'angular',
    dim,
    n,
    storage,
    vectors: base.data,
    graph: { n, degree, neighbors },
    entryPoints: new Uint32Array([3, 1, 4, 1 + 5]),
    buildParams: resolveBuildParams({ seed: 7 }, n, false),
  };
}

async function expectReject(path: string, message: RegExp): Promise<void> {
  const err = await loadIndex(path).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  expect((err as Error).message).toMatch(message);
  expect((err as Error).message).toContain(path);
  expect((err as Error).message).not.toContain('\n');
}

describe('index file', () => {
  it('round-trips f32 bit-exactly and atomically', async () => {
    const idx = sampleIndex('f32');
    const path = join(dir, 'a.crinn');
    await saveIndex(path, idx);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const back = await loadIndex(path);
    expect(back.metric).toBe('angular');
    expect([back.n, back.dim, back.storage, back.graph.degree]).toEqual([300, 13, 'f32', 8]);
    expect(Buffer.from(back.vectors.buffer).equals(Buffer.from(idx.vectors.buffer))).toBe(true);
    expect(Array.from(back.graph.neighbors)).toEqual(Array.from(idx.graph.neighbors));
    expect(Array.from(back.entryPoints)).toEqual(Array.from(idx.entryPoints));
    expect(back.buildParams).toEqual(idx.buildParams);
    // Saving what was loaded reproduces the file byte for byte.
    await saveIndex(join(dir, 'a2.crinn'), back);
    expect(readFileSync(join(dir, 'a2.crinn')).equals(readFileSync(path))).toBe(true);
  });

  it('round-trips f16 storage: vectors come back as their f16 roundings, file bytes stable', async () => {
    const idx = sampleIndex('f16', 12);
    const path = join(dir, 'b.crinn');
    await saveIndex(path, idx);
    const back = await loadIndex(path);
    expect(back.storage).toBe('f16');
    const expected = Float32Array.from(idx.vectors, (v) => f16BitsToF32(f32ToF16Bits(v)));
    expect(Buffer.from(back.vectors.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    await saveIndex(join(dir, 'b2.crinn'), back);
    expect(readFileSync(join(dir, 'b2.crinn')).equals(readFileSync(path))).toBe(true);
    // f16 halves the vector bytes (odd dims are padded).
    expect(readFileSync(path).length).toBeLessThan(readFileSync(join(dir, 'a.crinn')).length);
  });

  it('rejects truncated, corrupted, foreign and future files', async () => {
    const path = join(dir, 'c.crinn');
    await saveIndex(path, sampleIndex('f32'));
    const good = readFileSync(path);

    const truncated = join(dir, 'truncated.crinn');
    writeFileSync(truncated, good.subarray(0, good.length - 100));
    await expectReject(truncated, new RegExp(`truncated: expected ${good.length} bytes, file has ${good.length - 100}`));

    const corrupted = join(dir, 'corrupted.crinn');
    const flipped = Buffer.from(good);
    flipped[Math.floor(good.length / 2)] ^= 0x10;
    writeFileSync(corrupted, flipped);
    await expectReject(corrupted, /corrupted/);

    const foreign = join(dir, 'foreign.crinn');
    writeFileSync(foreign, Buffer.concat([Buffer.from('GGUF\0\0\0\0'), good.subarray(8)]));
    await expectReject(foreign, /not a crinn index/);

    const future = join(dir, 'future.crinn');
    const v2 = Buffer.from(good);
    v2.writeUInt32LE(2, 8);
    writeFileSync(future, v2);
    await expectReject(future, /written by version 2, this build reads 1/);

    await expectReject(join(dir, 'missing.crinn'), /cannot read: ENOENT/);
  });

  it('leaves no partial file when a save fails', async () => {
    const idx = sampleIndex('f32');
    const path = join(dir, 'no-such-dir', 'x.crinn');
    await expect(saveIndex(path, idx)).rejects.toThrow();
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
