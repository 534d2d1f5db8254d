import type { GpuContext } from './device.ts';
import { readBuffer } from './buffers.ts';

/**
 * Per-pass GPU time from timestamp queries (quantisation is disabled when the device is created).
 * On adapters without `timestamp-query`, `create` returns null and callers fall back to wall clock.
 */
export class PassTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuf: GPUBuffer;
  private used = 0;
  readonly capacity: number;
  private readonly ctx: GpuContext;

  private constructor(ctx: GpuContext, passes: number) {
    this.ctx = ctx;
    this.capacity = passes;
    this.querySet = ctx.device.createQuerySet({ label: 'pass-timer', type: 'timestamp', count: passes * 2 });
    this.resolveBuf = ctx.createBuffer({
      label: 'pass-timer:resolve',
      size: passes * 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
  }

  static create(ctx: GpuContext, passes: number): PassTimer | null {
    return ctx.hasTimestamps ? new PassTimer(ctx, passes) : null;
  }

  /** Timestamp writes for the next compute pass. */
  next(): GPUComputePassTimestampWrites {
    if (this.used >= this.capacity) throw new Error(`PassTimer: more than ${this.capacity} passes`);
    const i = this.used++;
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  resolve(encoder: GPUCommandEncoder): void {
    if (this.used) encoder.resolveQuerySet(this.querySet, 0, this.used * 2, this.resolveBuf, 0);
  }

  /** Seconds spent in each timed pass, in order. */
  async read(): Promise<number[]> {
    if (!this.used) return [];
    const raw = new BigUint64Array(await readBuffer(this.ctx, this.resolveBuf, this.used * 16));
    const out: number[] = [];
    for (let i = 0; i < this.used; i++) out.push(Number(raw[2 * i + 1] - raw[2 * i]) / 1e9);
    return out;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuf.destroy();
  }
}
