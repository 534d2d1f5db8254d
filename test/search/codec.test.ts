/**
 * The storage codec seam (src/data/codecs/, docs/ARCHITECTURE.md "Where to add: a codec"): the
 * built-in f32 and f16 codecs, the registry, and a toy codec registered here (bf16: one TypeScript
 * file and one WGSL file under fixtures/bf16-codec/) built, saved, loaded, searched on the GPU and
 * checked by the evaluator's distance check against the rows as the codec decodes them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { codecFor, codecNames, registerCodec } from '../../src/data/codecs/registry.ts';
import { f16Codec } from '../../src/data/codecs/f16.ts';
import { f32Codec } from '../../src/data/codecs/f32.ts';
import { bruteForceKnn } from '../../src/data/metric.ts';
import type { VectorSet } from '../../src/data/types.ts';
import { loadIndex, saveIndex, type Index } from '../../src/graph/index-file.ts';
import { buildIndex } from '../../src/search/engine.ts';
import { GpuSearcher } from '../../src/search/gpu-search.ts';
import { searchKernelFiles } from '../../src/search/beam-core.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import { checkResults, rowsAsSearched } from '../../src/evolve/evaluate.ts';
import { openTestGpu, randomSet } from '../gpu/helpers.ts';
import { expectUserError, tempDir } from '../data/helpers.ts';
import { bf16Codec } from './fixtures/bf16-codec/bf16.ts';

const SLOW = 600_000;

describe('storage codecs: the built-ins', () => {
  it('f32, f16, int8 and binary are registered; an unknown name is a UserError naming the option and the allowed names', async () => {
    expect(codecNames().slice(0, 4)).toEqual(['f32', 'f16', 'int8', 'binary']);
    expect(codecFor('f32')).toBe(f32Codec);
    expect(codecFor('f16')).toBe(f16Codec);
    await expectUserError(() => codecFor('int4', '--storage'), "--storage: unknown vector storage 'int4'", 'allowed: f32, f16, int8, binary');
  });

  it('declare the layout the index file and the kernels always had: file codes 0 and 1, 4 and 2 bytes a value, f16 rows padded to whole vec4<u32>, refine only for f16', () => {
    expect([f32Codec.fileCode, f16Codec.fileCode]).toEqual([0, 1]);
    expect([f32Codec.fileRowBytes(13), f16Codec.fileRowBytes(13)]).toEqual([52, 26]);
    expect([12, 13, 16, 20].map((d) => f32Codec.rowVec4s(d))).toEqual([3, 4, 4, 5]);
    expect([12, 13, 16, 20].map((d) => f16Codec.rowVec4s(d))).toEqual([4, 4, 4, 6]);
    expect([f32Codec.needsRefine, f16Codec.needsRefine]).toEqual([false, true]);
    expect([f32Codec.rowLoader.file, f16Codec.rowLoader.file]).toEqual(['base_f32.wgsl', 'base_f16.wgsl']);
    const v = Float32Array.from([1, 1 / 3, -2.0001]);
    expect(f32Codec.round(v)).toBe(v);
    expect(Array.from(f16Codec.round(v))).toEqual([1, 0.333251953125, -2]);
    expect(Array.from(f16Codec.decode((f16Codec.encode(v) as Uint16Array).buffer as ArrayBuffer))).toEqual(Array.from(f16Codec.round(v)));
  });

  it('registerCodec refuses a name or a file code already taken', () => {
    expect(() => registerCodec({ ...bf16Codec, name: 'f16' })).toThrow(/a codec named 'f16' exists/);
    expect(() => registerCodec({ ...bf16Codec, name: 'other', fileCode: 1 })).toThrow(/file code 1, which 'f16' has/);
  });
});

describe('a toy codec registered in a test (bf16: one TS file, one WGSL file)', () => {
  let ctx: GpuContext;
  let base: VectorSet;
  let queries: VectorSet;
  let index: Index;
  const tmp = tempDir('crinn-codec-');
  beforeAll(async () => {
    registerCodec(bf16Codec);
    ctx = await openTestGpu();
    base = randomSet(2000, 12, 5);
    queries = randomSet(100, 12, 6);
    index = (await buildIndex(base, 'l2', { seed: 1, threads: 1 }, { storage: 'bf16', quiet: true })).index;
  }, SLOW);
  afterAll(() => {
    ctx?.destroy();
    tmp.cleanup();
  });

  it('is listed, names its row loader by base name, and the unknown-name error lists it', async () => {
    expect(codecNames()).toEqual(['f32', 'f16', 'int8', 'binary', 'bf16']);
    expect(searchKernelFiles().baseBF16).toBe('base_bf16.wgsl');
    await expectUserError(() => codecFor('int4'), 'allowed: f32, f16, int8, binary, bf16');
  });

  it('an index built with it holds the values it decodes to and round-trips through the index file at 2 bytes a value', async () => {
    expect(index.storage).toBe('bf16');
    expect(Array.from(index.vectors)).toEqual(Array.from(bf16Codec.round(base.data)));
    expect(index.vectors.some((v, i) => v !== base.data[i])).toBe(true);
    const path = join(tmp.dir, 'bf16.crinn');
    await saveIndex(path, index);
    const back = await loadIndex(path);
    expect(back.storage).toBe('bf16');
    expect(Buffer.from(back.vectors.buffer).equals(Buffer.from(index.vectors.buffer))).toBe(true);
    expect(readFileSync(path).readUInt32LE(28)).toBe(bf16Codec.fileCode);
    await saveIndex(join(tmp.dir, 'f32.crinn'), { ...index, storage: 'f32' });
    expect(readFileSync(join(tmp.dir, 'f32.crinn')).length - readFileSync(path).length).toBe(2000 * 12 * 2);
  });

  it('searches on the GPU with its own row loader and an f32 rerank; the evaluator checks its distances on the rows as the codec decodes them', async () => {
    const s = new GpuSearcher(ctx, index);
    try {
      const p = s.resolve(10, { itopk: 64 });
      expect(p.refine).toBe(20);
      const kernel = s.beamKernel(p);
      expect(kernel.cacheKey).toBe('bf16-d4=4-itopk=64');
      expect(kernel.source).toContain('fn bf16_pair');
      const r = await s.search(queries, 10, { itopk: 64 });
      const searched = rowsAsSearched(base, 'bf16');
      expect(Array.from(searched.data)).toEqual(Array.from(index.vectors));
      expect(rowsAsSearched(base, 'f32')).toBe(base);
      expect(() => checkResults(r, queries, 10, searched, 'l2')).not.toThrow();
      // The same answers against the undecoded rows: truncation moves distances past the check's 1e-3.
      expect(() => checkResults(r, queries, 10, base, 'l2')).toThrow(/is not its true distance/);
      const truth = bruteForceKnn(searched, queries, 10, 'l2');
      expect(recallAtK(r, searched, queries, 'l2', truth, 10).recall).toBeGreaterThan(0.9);
    } finally {
      s.destroy();
    }
  }, SLOW);

  it('a codec whose row loader needs a WebGPU feature the device lacks is refused before any upload', async () => {
    registerCodec({ ...bf16Codec, name: 'bf16-featured', fileCode: 8, shaderFeatures: ['no-such-feature'] });
    await expectUserError(() => new GpuSearcher(ctx, { ...index, storage: 'bf16-featured' }), 'index storage bf16-featured', 'no-such-feature');
  });
});
