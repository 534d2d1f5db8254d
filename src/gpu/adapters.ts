import { UserError } from '../errors.ts';
import type { GpuProvider } from './provider.ts';

export type Backend = 'vulkan' | 'opengles' | 'opengl' | 'metal' | 'd3d12' | 'd3d11';
export const BACKENDS: readonly Backend[] = ['vulkan', 'opengles', 'opengl', 'metal', 'd3d12', 'd3d11'];

/** Limits that matter for compute kernels; reported and requested at their adapter maximum. */
export const COMPUTE_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
] as const;
export type ComputeLimitName = (typeof COMPUTE_LIMITS)[number];

export interface AdapterDescription {
  /** Stable human name: device string and backend, e.g. "llvmpipe-llvm-15-0-6-256-bits (vulkan)". */
  name: string;
  backend: Backend;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** 'cpu' for software rasterisers (lavapipe, SwiftShader), else 'gpu'. */
  type: 'cpu' | 'gpu';
  featureLevel: 'core' | 'compatibility';
  subgroupMinSize: number;
  subgroupMaxSize: number;
  features: string[];
  limits: Record<ComputeLimitName, number>;
}

/** Dawn toggles every process passes: unquantised timestamps make kernel timing usable. */
export const BASE_FLAGS = ['disable-dawn-features=timestamp_quantization', ...(process.env.CRINN_DAWN_FLAGS ? process.env.CRINN_DAWN_FLAGS.split(' ') : [])];

export function platformBackends(platform = process.platform): Backend[] {
  if (platform === 'darwin') return ['metal'];
  if (platform === 'win32') return ['d3d12', 'vulkan', 'd3d11'];
  return ['vulkan', 'opengles', 'opengl'];
}

export function describeAdapter(adapter: GPUAdapter, backend: Backend, featureLevel: 'core' | 'compatibility'): AdapterDescription {
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };
  const limits = {} as Record<ComputeLimitName, number>;
  for (const k of COMPUTE_LIMITS) limits[k] = Number((adapter.limits as unknown as Record<string, number>)[k]);
  const device = (info.device || info.description || 'unknown').replace(/-+$/, '');
  const software = Boolean(info.isFallbackAdapter) || info.architecture === 'software' || /llvmpipe|swiftshader|lavapipe|softpipe/i.test(`${info.device} ${info.description}`);
  return {
    name: `${device} (${backend})`,
    backend,
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device,
    description: info.description ?? '',
    type: software ? 'cpu' : 'gpu',
    featureLevel,
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}

export interface AdapterCandidate {
  /** The instance that owns the adapter: dawn.node tears down devices when it is collected. */
  gpu: GPU;
  adapter: GPUAdapter;
  description: AdapterDescription;
  flags: string[];
}

/**
 * Every adapter Dawn exposes on this platform: one GPU per backend toggle, each asked for with
 * both power preferences (multi-GPU machines answer differently) and core before compatibility.
 */
export async function enumerateAdapters(provider: GpuProvider, backends: Backend[] = platformBackends()): Promise<AdapterCandidate[]> {
  const out: AdapterCandidate[] = [];
  const seen = new Set<string>();
  for (const backend of backends) {
    const flags = [...BASE_FLAGS, `backend=${backend}`];
    let gpu: GPU;
    try {
      gpu = provider.create(flags);
    } catch {
      continue;
    }
    for (const featureLevel of ['core', 'compatibility'] as const) {
      for (const powerPreference of ['high-performance', 'low-power'] as const) {
        let adapter: GPUAdapter | null = null;
        try {
          adapter = await gpu.requestAdapter({ featureLevel, powerPreference } as GPURequestAdapterOptions);
        } catch {
          adapter = null;
        }
        if (!adapter) continue;
        const d = describeAdapter(adapter, backend, featureLevel);
        const key = `${backend}|${d.device}|${d.description}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ gpu, adapter, description: d, flags: [...flags, `power-preference=${powerPreference}`] });
      }
    }
  }
  return out;
}

export interface AdapterQuery {
  /** Case-insensitive substring of the adapter's name, vendor or description. */
  adapter?: string;
  backend?: Backend;
  powerPreference?: 'high-performance' | 'low-power';
}

/** What to do when no adapter answers: the set-up script, and the backends this platform has. */
export function noAdapterHint(tried: readonly Backend[] = platformBackends()): string {
  return `no WebGPU adapter found on backend ${tried.join(', ')}: run \`bash scripts/setup.sh\` (on Linux without a GPU it installs Mesa's lavapipe Vulkan driver), or pick another backend with --backend (available here: ${platformBackends().join(', ')})`;
}

/** Parses --backend; a backend Dawn cannot use on this platform (metal on Linux) is refused up front. */
export function parseBackend(value: string, platform = process.platform): Backend {
  if (!(BACKENDS as readonly string[]).includes(value)) {
    throw new UserError(`--backend: unknown backend '${value}'; available here: ${platformBackends(platform).join(', ')}`);
  }
  if (!platformBackends(platform).includes(value as Backend)) {
    throw new UserError(`--backend: '${value}' is not available on ${platform}; available here: ${platformBackends(platform).join(', ')}`);
  }
  return value as Backend;
}

/** Keeps the candidates whose name, vendor, architecture or description contains `needle` (case-insensitive). */
export function filterAdapters(all: readonly AdapterCandidate[], needle: string): AdapterCandidate[] {
  const n = needle.toLowerCase();
  return all.filter(({ description: d }) => `${d.name} ${d.vendor} ${d.architecture} ${d.description}`.toLowerCase().includes(n));
}

/** Picks the adapter a query names; errors list what exists. */
export async function selectAdapter(provider: GpuProvider, query: AdapterQuery = {}): Promise<AdapterCandidate> {
  const backends = query.backend ? [query.backend] : platformBackends();
  const all = await enumerateAdapters(provider, backends);
  if (all.length === 0) throw new UserError(noAdapterHint(backends));
  let pool = all;
  if (query.adapter) {
    pool = filterAdapters(all, query.adapter);
    if (pool.length === 0) {
      throw new UserError(`--adapter: no adapter matches '${query.adapter}'; available: ${all.map((c) => c.description.name).join('; ')}`);
    }
  }
  // Prefer a real GPU over a software one, core over compatibility, then the platform's backend order.
  const rank = (c: AdapterCandidate) =>
    (c.description.type === 'gpu' ? 0 : 10) + (c.description.featureLevel === 'core' ? 0 : 5) +
    (query.powerPreference && !c.flags.includes(`power-preference=${query.powerPreference}`) ? 1 : 0);
  return [...pool].sort((a, b) => rank(a) - rank(b))[0];
}
