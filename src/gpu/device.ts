import { GpuError, UserError } from '../errors.ts';
import { COMPUTE_LIMITS, selectAdapter, type AdapterDescription, type AdapterQuery, type ComputeLimitName } from './adapters.ts';
import { dawnProvider, type GpuProvider } from './provider.ts';
import { watchdog, gpuTimeoutMs } from './watchdog.ts';
import { GpuMemory } from './memory.ts';

export interface OpenOptions extends AdapterQuery {
  provider?: GpuProvider;
  /** Print every generated WGSL source to stderr before compiling it. */
  verbose?: boolean;
  timeoutMs?: number;
  /**
   * Limits to hold below the device's (never above): what the host plans against, e.g. a binding
   * limit low enough that a small index takes the split layout a 1M index needs (tests, debugging).
   */
  limitCaps?: Partial<Record<ComputeLimitName, number>>;
}

/** `limits` with each capped key lowered to its cap. */
function cappedLimits(limits: GPUSupportedLimits, caps: Partial<Record<string, number>>): GPUSupportedLimits {
  const own = limits as unknown as Record<string, number>;
  const out: Record<string, number> = {};
  // Every limit the device reports (the prototype's getters), then the caps.
  for (let o: object | null = limits; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) if (key !== 'constructor' && typeof own[key] === 'number') out[key] ??= own[key];
  }
  for (const [key, cap] of Object.entries(caps)) {
    if (cap === undefined) continue;
    if (!Number.isFinite(cap) || cap <= 0) throw new UserError(`limit cap ${key}: ${cap} is not a positive number`);
    if (typeof own[key] !== 'number') throw new UserError(`limit cap ${key}: not a limit of this device`);
    out[key] = Math.min(own[key], cap);
  }
  return Object.freeze(out) as unknown as GPUSupportedLimits;
}

const OPTIONAL_FEATURES = ['timestamp-query', 'shader-f16', 'subgroups'] as const;

/**
 * One opened device plus what we know about it. Device loss and uncaptured errors are recorded
 * and rethrown by the next `wait`, so nothing hangs and nothing fails silently.
 */
export class GpuContext {
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  readonly features: ReadonlySet<string>;
  readonly verbose: boolean;
  readonly timeoutMs: number;
  private lostMessage: string | undefined;
  private readonly lostPromise: Promise<never>;
  private errors: string[] = [];
  private readonly cappedLimits: GPUSupportedLimits | undefined;
  private destroyed = false;
  /** Device memory held by buffers made through createBuffer. */
  readonly memory = new GpuMemory();
  /** Keeps the GPU instance reachable for the device's lifetime (see AdapterCandidate.gpu). */
  private readonly owner: unknown;

  constructor(device: GPUDevice, adapter: AdapterDescription, opts: { verbose?: boolean; timeoutMs?: number; owner?: unknown; limitCaps?: OpenOptions['limitCaps'] } = {}) {
    this.device = device;
    this.cappedLimits = opts.limitCaps && Object.keys(opts.limitCaps).length ? cappedLimits(device.limits, opts.limitCaps) : undefined;
    this.owner = opts.owner;
    this.adapter = adapter;
    this.features = new Set([...device.features].map(String));
    this.verbose = Boolean(opts.verbose);
    this.timeoutMs = opts.timeoutMs ?? gpuTimeoutMs();
    this.lostPromise = device.lost.then((info) => {
      if (!this.destroyed) this.lostMessage = `GPU device lost (${info.reason}): ${info.message || 'no message'}`;
      throw new GpuError(this.lostMessage ?? 'GPU device destroyed');
    });
    this.lostPromise.catch(() => {});
    device.addEventListener('uncapturederror', (ev) => {
      this.errors.push((ev as GPUUncapturedErrorEvent).error.message);
    });
  }

  /** The device's limits, lowered by any `limitCaps` it was opened with: what the host plans against. */
  /** Creates a buffer counted in `memory` until it is destroyed: every buffer of the project goes through here. */
  createBuffer(desc: GPUBufferDescriptor): GPUBuffer {
    return this.memory.track(this.device.createBuffer(desc), desc.size);
  }

  get limits(): GPUSupportedLimits {
    return this.cappedLimits ?? this.device.limits;
  }

  get hasTimestamps(): boolean {
    return this.features.has('timestamp-query');
  }

  get hasF16(): boolean {
    return this.features.has('shader-f16');
  }

  /** Throws if the device was lost or an uncaptured error was reported since the last check. */
  check(): void {
    if (this.lostMessage) throw new GpuError(this.lostMessage);
    if (this.destroyed) throw new GpuError('GPU device already destroyed');
    if (this.errors.length) {
      const errs = this.errors;
      this.errors = [];
      throw new GpuError(`GPU error: ${errs[0]}${errs.length > 1 ? ` (+${errs.length - 1} more)` : ''}`);
    }
  }

  /** Awaits a GPU promise under the watchdog, failing fast on device loss. */
  async wait<T>(p: Promise<T>, what: string): Promise<T> {
    this.check();
    const v = await watchdog(Promise.race([p, this.lostPromise]), what, this.timeoutMs);
    this.check();
    return v;
  }

  /** Waits until all submitted work finished (the harness's clock stops only here). */
  async idle(what = 'queue idle'): Promise<void> {
    await this.wait(this.device.queue.onSubmittedWorkDone(), what);
  }

  /** Checks a workgroup size and a dispatch count against this device's limits. */
  checkDispatch(label: string, workgroupSize: number, groups: [number, number?, number?]): void {
    // The device's own limits (not limitCaps): what a dispatch is validated against.
    const lim = this.device.limits;
    if (workgroupSize > lim.maxComputeInvocationsPerWorkgroup) {
      throw new UserError(`${label}: workgroup size ${workgroupSize} exceeds this adapter's maxComputeInvocationsPerWorkgroup ${lim.maxComputeInvocationsPerWorkgroup}`);
    }
    for (const g of groups) {
      if (g !== undefined && g > lim.maxComputeWorkgroupsPerDimension) {
        throw new UserError(`${label}: dispatch of ${g} workgroups exceeds this adapter's maxComputeWorkgroupsPerDimension ${lim.maxComputeWorkgroupsPerDimension}`);
      }
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.device.destroy();
  }
}

/** Opens the adapter the options name, asking for every compute limit at the adapter's maximum. */
export async function openGpu(opts: OpenOptions = {}): Promise<GpuContext> {
  // Read before any GPU work so a bad $CRINN_GPU_TIMEOUT_MS is reported as bad input, not a GPU error.
  const timeoutMs = opts.timeoutMs ?? gpuTimeoutMs();
  const provider = opts.provider ?? (await dawnProvider());
  const { gpu, adapter, description } = await selectAdapter(provider, opts);
  const requiredLimits: Record<string, number> = {};
  for (const k of COMPUTE_LIMITS) requiredLimits[k] = description.limits[k];
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  let device: GPUDevice;
  try {
    device = await watchdog(adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'crinn' }), 'requestDevice', timeoutMs);
  } catch (err) {
    throw new GpuError(`cannot open a device on ${description.name}: ${(err as Error).message}`);
  }
  return new GpuContext(device, description, { ...opts, timeoutMs, owner: gpu });
}
