/**
 * The pipeline cache and explicit layouts on real Dawn: a kernel is keyed by its full source (a
 * variant of the same length as the baseline gets its own pipeline), and a kernel whose host
 * declares a binding read-only cannot make it writable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelPipeline, ShaderCompileError } from '../../src/gpu/pipeline.ts';
import { shaderSource } from '../../src/gpu/shader.ts';
import type { Kernel } from '../../src/gpu/kernel-text.ts';
import { buildIndex } from '../../src/search/engine.ts';
import { GpuSearcher } from '../../src/search/gpu-search.ts';
import { cpuBeamSearch } from '../../src/search/cpu-search.ts';
import { bindGroup, readBuffer, storageBuffer } from '../../src/gpu/buffers.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { openTestGpu, randomSet } from './helpers.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await openTestGpu();
});
afterAll(() => ctx.destroy());

const writer = (value: string): Kernel => ({
  name: 'writer',
  cacheKey: 'x',
  source: `@group(0) @binding(0) var<storage, read_write> out: array<u32>;\n@compute @workgroup_size(1) fn main() { out[0] = ${value}; }\n`,
});

async function run(kernel: Kernel, buffers: GPUBuffer[]): Promise<GPUComputePipeline> {
  const pipe = await kernelPipeline(ctx, kernel);
  const enc = ctx.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipe);
  pass.setBindGroup(0, bindGroup(ctx, pipe, kernel.name, buffers));
  pass.dispatchWorkgroups(1);
  pass.end();
  ctx.device.queue.submit([enc.finish()]);
  return pipe;
}

describe('pipeline cache', () => {
  it('keys by the full source: equal-length sources get their own pipelines', async () => {
    const a = writer('1u');
    const b = writer('7u');
    expect(a.source.length).toBe(b.source.length);
    const out = storageBuffer(ctx, 'out', 16);
    try {
      const pa = await run(a, [out]);
      expect(new Uint32Array(await readBuffer(ctx, out, 4))[0]).toBe(1);
      const pb = await run(b, [out]);
      expect(pb).not.toBe(pa);
      expect(new Uint32Array(await readBuffer(ctx, out, 4))[0]).toBe(7);
      // The same kernel again is a cache hit.
      expect(await kernelPipeline(ctx, writer('7u'))).toBe(pb);
    } finally {
      out.destroy();
    }
  });
});

describe('explicit layouts', () => {
  const copy = (access: 'read' | 'read_write', write: boolean): Kernel => ({
    name: 'copy',
    cacheKey: `${access}-${write}`,
    source: `@group(0) @binding(0) var<storage, ${access}> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@compute @workgroup_size(1) fn main() { dst[0] = src[0] + 1u;${write ? ' src[0] = 99u;' : ''} }
`,
    bindings: ['read-only-storage', 'storage'],
  });

  it('a kernel that matches its declared bindings runs', async () => {
    const src = storageBuffer(ctx, 'src', new Uint32Array([41]));
    const dst = storageBuffer(ctx, 'dst', 16);
    try {
      await run(copy('read', false), [src, dst]);
      expect(new Uint32Array(await readBuffer(ctx, dst, 4))[0]).toBe(42);
    } finally {
      src.destroy();
      dst.destroy();
    }
  });

  it('WGSL declaring a read-only binding read_write fails pipeline creation, naming the binding', async () => {
    const err = await kernelPipeline(ctx, copy('read_write', true)).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ShaderCompileError);
    expect((err as Error).message).toMatch(/^copy\[read_write-true\]: pipeline creation failed: .*not compatible with the type in the layout.*ReadOnlyStorage.*@binding\(0\)/s);
    // Without declared bindings ('auto') the same WGSL compiles: the layout is what refuses it.
    const { bindings: _, ...auto } = copy('read_write', true);
    await expect(kernelPipeline(ctx, { ...auto, cacheKey: 'auto' })).resolves.toBeDefined();
  });
});

describe('beam search with explicit layouts', () => {
  it('a beam kernel declaring the entry layer read_write is refused; the baseline then searches on the same device exactly like the CPU reference', async () => {
    const base = randomSet(1000, 16, 5);
    const queries = randomSet(40, 16, 6);
    const { index } = await buildIndex(base, 'l2', { seed: 1, threads: 1 }, { quiet: true });
    const beam = shaderSource('beam_search.wgsl');
    const hostile = beam.replace('var<storage, read> entries', 'var<storage, read_write> entries').replace('if (!live || !leader) { return; }', 'if (!live || !leader) { return; }\n  entries[q] = 0u;');
    expect(hostile).toContain('entries[q] = 0u;');
    const bad = new GpuSearcher(ctx, index, { beam: hostile });
    try {
      await expect(bad.search(queries, 10, { itopk: 16 })).rejects.toThrow(/pipeline creation failed.*ReadOnlyStorage.*@binding\(4\)/s);
    } finally {
      bad.destroy();
    }
    const good = new GpuSearcher(ctx, index);
    try {
      const gpu = await good.search(queries, 10, { itopk: 16 });
      const cpu = cpuBeamSearch(index, queries, 10, { itopk: 16 });
      expect(Array.from(gpu.ids)).toEqual(Array.from(cpu.ids));
    } finally {
      good.destroy();
    }
  }, 300_000);
});
