import type { GpuContext } from './device.ts';
import { UserError } from '../errors.ts';

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

/** Storage buffers must be a multiple of 4 bytes and non-empty. */
function paddedSize(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

/** Fails with both numbers when one binding would exceed the device's limit. */
export function checkBindingSize(ctx: GpuContext, label: string, bytes: number): void {
  const max = ctx.limits.maxStorageBufferBindingSize;
  if (bytes > max) throw new UserError(`${label}: ${bytes} bytes exceed this adapter's maxStorageBufferBindingSize ${max}`);
}

export function storageBuffer(ctx: GpuContext, label: string, data: ArrayBufferView | number): GPUBuffer {
  const bytes = typeof data === 'number' ? data : data.byteLength;
  checkBindingSize(ctx, label, bytes);
  const buf = ctx.createBuffer({ label, size: paddedSize(bytes), usage: STORAGE(), mappedAtCreation: typeof data !== 'number' });
  if (typeof data !== 'number') {
    new Uint8Array(buf.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buf.unmap();
  }
  return buf;
}

export function uniformBuffer(ctx: GpuContext, label: string, words: Uint32Array | Float32Array): GPUBuffer {
  const buf = ctx.createBuffer({ label, size: paddedSize(words.byteLength), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  ctx.device.queue.writeBuffer(buf, 0, words);
  return buf;
}

/** Copies `bytes` from a storage buffer back to the host under the watchdog. */
export async function readBuffer(ctx: GpuContext, src: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
  const staging = ctx.createBuffer({ label: `${src.label}:readback`, size: paddedSize(bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = ctx.device.createCommandEncoder({ label: 'readback' });
  enc.copyBufferToBuffer(src, offset, staging, 0, Math.ceil(bytes / 4) * 4);
  ctx.device.queue.submit([enc.finish()]);
  await ctx.wait(staging.mapAsync(GPUMapMode.READ), `read back ${src.label}`);
  const out = staging.getMappedRange(0, Math.ceil(bytes / 4) * 4).slice(0, bytes);
  staging.unmap();
  staging.destroy();
  return out;
}

/**
 * Reads `bytes` from each buffer with one copy submission and one map: results that come in
 * pairs (ids and distances) cost one GPU round trip, not two.
 */
export async function readBuffers(ctx: GpuContext, srcs: GPUBuffer[], bytes: number): Promise<ArrayBuffer[]> {
  const stride = Math.ceil(bytes / 16) * 16;
  const staging = ctx.createBuffer({ label: 'readback', size: paddedSize(stride * srcs.length), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = ctx.device.createCommandEncoder({ label: 'readback' });
  srcs.forEach((src, i) => enc.copyBufferToBuffer(src, 0, staging, i * stride, Math.ceil(bytes / 4) * 4));
  ctx.device.queue.submit([enc.finish()]);
  await ctx.wait(staging.mapAsync(GPUMapMode.READ), `read back ${srcs.map((s) => s.label).join(', ')}`);
  const whole = staging.getMappedRange();
  const out = srcs.map((_, i) => whole.slice(i * stride, i * stride + bytes));
  staging.unmap();
  staging.destroy();
  return out;
}

/** Binds buffers to group 0 in order. */
export function bindGroup(ctx: GpuContext, pipeline: GPUComputePipeline, label: string, buffers: GPUBuffer[]): GPUBindGroup {
  return ctx.device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
}

/** Buffers made for one dispatch batch: `make` creates and keeps each, `destroy` frees them all (in a finally). */
export function bufferScope(ctx: GpuContext): { make: (label: string, data: ArrayBufferView | number) => GPUBuffer; own: (...b: GPUBuffer[]) => void; destroy: () => void } {
  const owned: GPUBuffer[] = [];
  return {
    make: (label, data) => {
      const b = storageBuffer(ctx, label, data);
      owned.push(b);
      return b;
    },
    own: (...b) => void owned.push(...b),
    destroy: () => {
      for (const b of owned) b.destroy();
    },
  };
}
