import { describe, expect, it } from 'vitest';
import { openGpu } from '../../src/gpu/device.ts';
import { compileModule, kernelPipeline, ShaderCompileError } from '../../src/gpu/pipeline.ts';
import { GpuError, UserError } from '../../src/errors.ts';
import { storageBuffer, readBuffer, checkBindingSize } from '../../src/gpu/buffers.ts';
import { dawnProvider } from '../../src/gpu/provider.ts';
import { enumerateAdapters } from '../../src/gpu/adapters.ts';
import { openTestGpu } from './helpers.ts';

describe('GPU runtime', () => {
  it('enumerates at least one adapter with its compute limits', async () => {
    const list = await enumerateAdapters(await dawnProvider());
    expect(list.length).toBeGreaterThan(0);
    const d = list[0].description;
    expect(d.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(d.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    expect(d.name).toContain(d.backend);
  });

  it('names the available adapters when --adapter matches nothing', async () => {
    await expect(openGpu({ adapter: 'no-such-gpu-xyz' })).rejects.toThrow(/no adapter matches 'no-such-gpu-xyz'; available: .+/);
  });

  it('returns typed diagnostics with line and column for bad WGSL', async () => {
    const ctx = await openTestGpu();
    try {
      const src = '@compute @workgroup_size(1)\nfn main() {\n  let x: u32 = 1.5;\n}\n';
      const { diagnostics } = await compileModule(ctx, 'bad', src);
      const err = diagnostics.find((d) => d.type === 'error')!;
      expect(err.line).toBe(3);
      expect(err.column).toBeGreaterThan(0);
      await expect(kernelPipeline(ctx, { name: 'bad', cacheKey: 'x', source: src })).rejects.toBeInstanceOf(ShaderCompileError);
    } finally {
      ctx.destroy();
    }
  });

  it('round-trips a buffer and checks sizes against the device limits with both numbers', async () => {
    const ctx = await openTestGpu();
    try {
      const data = new Float32Array([1, 2, 3, 4.5, -7]);
      const buf = storageBuffer(ctx, 'rt', data);
      expect(Array.from(new Float32Array(await readBuffer(ctx, buf, data.byteLength)))).toEqual(Array.from(data));
      const max = ctx.limits.maxStorageBufferBindingSize;
      expect(() => checkBindingSize(ctx, 'huge', max + 4)).toThrow(new RegExp(`${max + 4} bytes exceed .* ${max}`));
      expect(() => ctx.checkDispatch('k', 100_000, [1])).toThrow(UserError);
      expect(() => ctx.checkDispatch('k', 64, [1e6])).toThrow(/1000000 workgroups exceeds .* 65535|1000000 workgroups exceeds/);
    } finally {
      ctx.destroy();
    }
  });

  it('turns device loss into an error instead of a hang', async () => {
    const ctx = await openTestGpu();
    const buf = storageBuffer(ctx, 'x', new Float32Array(4));
    ctx.device.destroy();
    await expect(readBuffer(ctx, buf, 16)).rejects.toBeInstanceOf(GpuError);
  });

  it('reports uncaptured validation errors on the next wait', async () => {
    const ctx = await openTestGpu();
    try {
      // A bind group against a layout it does not match is a validation error.
      const p = await kernelPipeline(ctx, { name: 'one', cacheKey: 'x', source: '@group(0) @binding(0) var<storage, read_write> o: array<u32>;\n@compute @workgroup_size(1) fn main() { o[0] = 1u; }' });
      ctx.device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [] });
      await expect(ctx.idle()).rejects.toThrow(/GPU error/);
    } finally {
      ctx.destroy();
    }
  });
});
