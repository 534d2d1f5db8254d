import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../src/data/f16.ts';
import { loadIndex, saveIndex, type Index } from '../../src/graph/index-file.ts';
import { resolveBuildParams } from '../../src/graph/params.ts';
import { HEADER_BYTES, layout, pad4 } from '../../src/graph/index-format.ts';
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
    entryLayer: { ids: new Uint32Array([3, 1, 4, 6]), degree: 2, neighbors: new Uint32Array([1, 2, 0, 0xffffffff, 3, 0, 2, 1]) },
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

describe('index file layout past 2 GiB', () => {
  it('pads and places sections by arithmetic: a 1M x 768 f32 section (3 GB) does not wrap at 2^31', () => {
    expect([pad4(0), pad4(5), pad4(2 ** 31 + 1), pad4(3_072_000_002)]).toEqual([0, 8, 2 ** 31 + 4, 3_072_000_004]);
    const L = layout(1_000_000, 768, 64, 'f32', 1000, 10, 20_000, 32);
    expect(L.vectorBytes).toBe(3_072_000_000);
    expect(L.vectorsAt).toBe(HEADER_BYTES + 12);
    expect(L.graphAt).toBe(L.vectorsAt + 3_072_000_000);
    expect(L.entriesAt).toBe(L.graphAt + 256_000_000);
    const at = [L.vectorsAt, L.graphAt, L.entriesAt, L.layerIdsAt, L.layerEdgesAt, L.codecAt, L.hashAt, L.total];
    expect(at).toEqual([...at].sort((a, b) => a - b));
    expect(L.total).toBe(L.hashAt + 32);
    // int8 keeps the f32 rows for the rerank and adds its codes after the entry layer.
    const Q = layout(1_000_000, 768, 64, 'int8', 1000, 10, 20_000, 32, { paramBytes: 6144, codeBytes: 784_000_000 });
    expect(Q.hashAt - Q.codesAt).toBe(784_000_000);
    expect(Q.codesAt).toBeGreaterThan(2 ** 31);
  });
});

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
    expect(back.entryLayer.degree).toBe(2);
    expect(Array.from(back.entryLayer.ids)).toEqual(Array.from(idx.entryLayer.ids));
    expect(Array.from(back.entryLayer.neighbors)).toEqual(Array.from(idx.entryLayer.neighbors));
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

  it('keeps the bytes of both built-in codecs: a hand-assembled f32 and f16 file (storage field 0 / 1) is what saveIndex writes (version 3: an empty codec section) and loadIndex reads, and the version-2 file without that section still loads', async () => {
    const values = [1, -2, 0.5, 65504, 3.25, -0.125]; // exact in f16: 3c00 c000 3800 7bff 4280 b000
    for (const [storage, code, rows] of [
      ['f32', 0, Buffer.from(Float32Array.from(values).buffer)],
      ['f16', 1, Buffer.from(Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x7bff, 0x4280, 0xb000]).buffer)],
    ] as const) {
      const file = (version: number): Buffer => {
        const header = Buffer.alloc(52);
        header.write('CRNNIDX\0', 0, 'latin1');
        // version, metric l2, dim, n, degree, storage, entry points, flags, JSON length, layer nodes, layer degree
        [version, 0, 3, 2, 1, code, 1, 0, 2, 1, 1].forEach((v, i) => header.writeUInt32LE(v, 8 + 4 * i));
        const u32 = (...v: number[]) => Buffer.from(Uint32Array.from(v).buffer);
        // JSON '{}' padded to 4; rows (24 or 12 bytes, already whole words); graph 1 -> 0 -> 1; entry point 0; layer id 0, no edge;
        // version 3: the codec section's head (no params, no codes).
        const body = Buffer.concat([header, Buffer.from('{}\0\0', 'latin1'), rows, u32(1, 0), u32(0), u32(0), u32(0xffffffff), ...(version >= 3 ? [u32(0, 0)] : [])]);
        return Buffer.concat([body, createHash('sha256').update(body).digest()]);
      };
      const idx: Index = {
        metric: 'l2', dim: 3, n: 2, storage, vectors: Float32Array.from(values),
        graph: { n: 2, degree: 1, neighbors: Uint32Array.from([1, 0]) }, entryPoints: Uint32Array.from([0]),
        entryLayer: { ids: Uint32Array.from([0]), degree: 1, neighbors: Uint32Array.from([0xffffffff]) },
        buildParams: {} as Index['buildParams'],
      };
      const path = join(dir, `golden-${storage}.crinn`);
      await saveIndex(path, idx);
      expect(readFileSync(path).equals(file(3))).toBe(true);
      for (const version of [2, 3]) {
        const fromBytes = join(dir, `golden-${storage}-v${version}.crinn`);
        writeFileSync(fromBytes, file(version));
        const back = await loadIndex(fromBytes);
        expect([back.storage, back.dim, back.n, back.codecData]).toEqual([storage, 3, 2, undefined]);
        expect(Array.from(back.vectors)).toEqual(values);
      }
    }
  });

  it('rejects truncated, corrupted, foreign and future files', async () => {
    const path = join(dir, 'c.crinn');
    await saveIndex(path, sampleIndex('f32'));
    const good = readFileSync(path);

    const truncated = join(dir, 'truncated.crinn');
    writeFileSync(truncated, good.subarray(0, good.length - 100));
    // The cut reaches into the codec section's head (8 bytes before the checksum), so the size is a lower bound.
    await expectReject(truncated, new RegExp(`truncated: expected at least ${good.length - 32} bytes, file has ${good.length - 100}`));
    const short = join(dir, 'short.crinn');
    writeFileSync(short, good.subarray(0, good.length - 10));
    await expectReject(short, new RegExp(`truncated: expected ${good.length} bytes, file has ${good.length - 10}`));

    const corrupted = join(dir, 'corrupted.crinn');
    const flipped = Buffer.from(good);
    flipped[Math.floor(good.length / 2)] ^= 0x10;
    writeFileSync(corrupted, flipped);
    await expectReject(corrupted, /corrupted/);

    const foreign = join(dir, 'foreign.crinn');
    writeFileSync(foreign, Buffer.concat([Buffer.from('GGUF\0\0\0\0'), good.subarray(8)]));
    await expectReject(foreign, /not a crinn index/);

    const future = join(dir, 'future.crinn');
    const v4 = Buffer.from(good);
    v4.writeUInt32LE(4, 8);
    writeFileSync(future, v4);
    await expectReject(future, /index version 4 is newer than this build reads \(3\)/);

    // A version-1 file (before the entry layer) names its version and the fix.
    const old = join(dir, 'old.crinn');
    const v1 = Buffer.from(good);
    v1.writeUInt32LE(1, 8);
    writeFileSync(old, v1);
    await expectReject(old, /index version 1, this build reads versions 2, 3: rebuild it with crinn build/);

    await expectReject(join(dir, 'missing.crinn'), /: file not found/);
  });

  // Issue 7: a file whose checksum is valid but whose ids are out of range was searched and
  // returned garbage. Each id region is damaged and re-hashed, so only the range check can catch it.
  it('rejects out-of-range graph edges, entry points and entry-layer ids even with a valid checksum', async () => {
    const path = join(dir, 'ids.crinn');
    await saveIndex(path, sampleIndex('f32'));
    const good = readFileSync(path);
    const hashAt = good.length - 32;
    // Before the checksum: the codec section's 8-byte head (f32: no params, no codes).
    const body = hashAt - 8;
    const layerBytes = 4 * 4 + 4 * 8; // 4 ids + 4 x 2 edges
    const entriesAt = body - layerBytes - 4 * 4;
    const graphAt = entriesAt - 300 * 8 * 4;
    const cases: [string, number, number, RegExp][] = [
      ['graph', graphAt + 4 * (8 * 7 + 3), 300, /graph: node 7 edge 3 is 300, expected < n = 300/],
      ['entries', entriesAt + 4 * 2, 1000, /entry points: entry 2 is 1000, expected < n = 300/],
      ['layer-ids', body - layerBytes + 4, 300, /entry layer node 1: id 300 >= n = 300/],
      ['layer-edges', body - 4 * 8 + 4 * 5, 4, /entry layer edge 5: 4 >= 4 nodes/],
    ];
    for (const [name, at, value, message] of cases) {
      const bad = Buffer.from(good);
      bad.writeUInt32LE(value, at);
      createHash('sha256').update(bad.subarray(0, hashAt)).digest().copy(bad, hashAt);
      const file = join(dir, `bad-${name}.crinn`);
      writeFileSync(file, bad);
      await expectReject(file, message);
    }
  });

  it('leaves no partial file when a save fails', async () => {
    const idx = sampleIndex('f32');
    const path = join(dir, 'no-such-dir', 'x.crinn');
    await expect(saveIndex(path, idx)).rejects.toThrow();
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
