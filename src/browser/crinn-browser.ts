/**
 * crinn in a web page: no Node APIs, no dependencies. Parses an index file's bytes (the same
 * format module as the Node engine) and searches it on a WebGPU device with a bundle's WGSL, run by
 * the same host code as the Node engine (src/search/beam-core.ts: bind layout, uniforms, dispatch).
 *
 *   import { open, loadBundle } from 'crinn-webgpu/browser';
 *   const device = await (await navigator.gpu.requestAdapter()).requestDevice(...);
 *   const s = await open(device, await (await fetch('index.crinn')).arrayBuffer(), await loadBundle('kernels/x/'));
 *   const { ids, distances } = await s.search(queries, 10, 64);
 */
import type { GpuContext } from '../gpu/device.ts';
import { kernelPipeline } from '../gpu/pipeline.ts';
import { GpuMemory } from '../gpu/memory.ts';
import { decodeIndex, digestMatches, parseIndexHeader, sectionDigestMatches, type Index } from '../graph/index-format.ts';
import { BeamSearchCore, moduleKernelRoles, searchKernelFiles, type SearchKernelSources } from '../search/beam-core.ts';
import { codecFor, codecs } from '../data/codecs/registry.ts';
import { DEFAULT_SEARCH_PARAMS, effortParams, type SearchParams } from '../search/params.ts';
// Knob values -> search params, the same mapping the evaluator measured the bundle with.
import { searchParamsFor } from '../search/knob-params.ts';
import { bundleKernelPaths } from '../search/bundle-kernels.ts';
import { BUNDLE_FORMAT } from '../bundle/bundle-id.ts';

/**
 * A kernel bundle: WGSL files by path, host parameters, and the manifest they came from. An
 * exported bundle (kernels/README.md, format crinn-kernel-bundle) carries per-module knob values;
 * a plain one may carry search params directly.
 */
export interface Bundle {
  files: Record<string, string>;
  params?: Partial<SearchParams>;
  /** Knob values by module ({ search: { searchWidth: 2, ... }, refine: { refineFactor: 3 } }). */
  knobs?: Record<string, Record<string, number>>;
  manifest?: Record<string, unknown>;
}

type Modules = Record<string, { files?: unknown; knobValues?: Record<string, number> }>;


const baseName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/**
 * WGSL file names a manifest lists. An exported bundle: the files that fill a kernel role, by the
 * library's rule (search/bundle-kernels.ts). A plain one: `files` as an array or a {role: file}
 * object, or `kernels`.
 */
function manifestFiles(m: Record<string, unknown>): string[] {
  if (m.format === BUNDLE_FORMAT) return Object.values(bundleKernelPaths((m.modules ?? {}) as Modules));
  const f = m.files ?? m.kernels;
  if (Array.isArray(f)) return f.filter((x): x is string => typeof x === 'string');
  if (f && typeof f === 'object') return Object.values(f).filter((x): x is string => typeof x === 'string');
  return [];
}

/** Search parameters a manifest carries (`params`, `searchParams`, `knobValues` or `host`), known fields only. */
export function manifestParams(m: Record<string, unknown>): Partial<SearchParams> {
  const out: Partial<SearchParams> = {};
  for (const key of ['params', 'searchParams', 'host', 'knobValues']) {
    const v = m[key];
    if (!v || typeof v !== 'object') continue;
    const inner = (v as Record<string, unknown>).search;
    const src = (inner && typeof inner === 'object' ? inner : v) as Record<string, unknown>;
    for (const [k, x] of Object.entries(src)) {
      // The effort knob is the caller's; an exported itopk only says where the sweep started.
      if (k in DEFAULT_SEARCH_PARAMS && k !== 'itopk' && k !== 'maxIterations' && typeof x === 'number') (out as Record<string, number>)[k] = x;
    }
  }
  return out;
}

/** Fetches `manifest.json` under `base` and every WGSL file it names (relative to it). */
export async function loadBundle(base: string | URL, fetchFn: typeof fetch = fetch): Promise<Bundle> {
  const root = new URL('./', new URL(String(base), (globalThis as { location?: { href: string } }).location?.href ?? 'http://localhost/'));
  const get = async (name: string): Promise<Response> => {
    const r = await fetchFn(new URL(name, root));
    if (!r.ok) throw new Error(`bundle ${root.href}: ${name}: HTTP ${r.status}`);
    return r;
  };
  const manifest = (await (await get('manifest.json')).json()) as Record<string, unknown>;
  const files: Record<string, string> = {};
  for (const f of manifestFiles(manifest).filter((x) => x.endsWith('.wgsl'))) files[f] = await (await get(f)).text();
  const knobs: Record<string, Record<string, number>> = {};
  for (const [mod, x] of Object.entries((manifest.modules ?? {}) as Modules)) if (x.knobValues) knobs[mod] = x.knobValues;
  return { files, params: manifestParams(manifest), ...(Object.keys(knobs).length ? { knobs } : {}), manifest };
}

/**
 * The kernel sources of `bundle`, each missing role taken from `fallback` (the baseline bundle).
 * A codec's row loader neither holds is left out: only an index of that storage needs it, and its
 * search then names the missing loader (beam-core.ts); so is refine_pass.wgsl.
 */
export function bundleSources(bundle: Bundle, fallback?: Bundle): SearchKernelSources {
  // refine_pass only runs where the f32 rows need more bindings than one refine kernel has: a fallback older than it may lack it.
  const optional = new Set([...codecs().map((c) => c.rowLoader.role), 'refinePass']);
  const pick = (b: Bundle | undefined, file: string): string | undefined => {
    if (!b) return undefined;
    const hit = Object.keys(b.files).find((k) => baseName(k) === file);
    return hit === undefined ? undefined : b.files[hit];
  };
  const out = {} as SearchKernelSources;
  for (const [role, file] of Object.entries(searchKernelFiles())) {
    const src = pick(bundle, file) ?? pick(fallback, file);
    if (src === undefined && optional.has(role)) continue;
    if (src === undefined) throw new Error(`bundle: no ${file} (and no fallback bundle holds one)`);
    out[role] = src;
  }
  return out;
}

/** Parses and validates index file bytes (magic, version, size, SHA-256 via WebCrypto, id ranges). */
export async function parseIndex(bytes: ArrayBuffer | Uint8Array, name = 'index'): Promise<Index> {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const fail = (what: string): never => {
    throw new Error(`${name}: ${what}`);
  };
  const h = parseIndexHeader(buf, fail);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buf.subarray(0, h.layout.hashAt)));
  if (!digestMatches(buf, h, digest)) fail('corrupted (checksum mismatch)');
  for (const s of h.sections) {
    if (!sectionDigestMatches(buf, s, new Uint8Array(await crypto.subtle.digest('SHA-256', buf.subarray(s.from, s.to))))) fail(`corrupted (section '${s.tag}' checksum mismatch)`);
  }
  return decodeIndex(buf, h, fail);
}

/** The part of the Node GpuContext the shared search code uses, over a plain GPUDevice. */
function browserContext(device: GPUDevice): GpuContext {
  const memory = new GpuMemory();
  const ctx = {
    device,
    memory,
    createBuffer: (desc: GPUBufferDescriptor): GPUBuffer => memory.track(device.createBuffer(desc), desc.size),
    limits: device.limits,
    verbose: false,
    wait: <T>(p: Promise<T>): Promise<T> => p,
    checkDispatch(label: string, workgroupSize: number, groups: (number | undefined)[]): void {
      const lim = device.limits;
      if (workgroupSize > lim.maxComputeInvocationsPerWorkgroup) throw new Error(`${label}: workgroup size ${workgroupSize} exceeds this adapter's maxComputeInvocationsPerWorkgroup ${lim.maxComputeInvocationsPerWorkgroup}`);
      for (const g of groups) if (g !== undefined && g > lim.maxComputeWorkgroupsPerDimension) throw new Error(`${label}: dispatch of ${g} workgroups exceeds maxComputeWorkgroupsPerDimension ${lim.maxComputeWorkgroupsPerDimension}`);
    },
  };
  return ctx as unknown as GpuContext;
}

export interface SearchResult {
  /** nq * k, row-major; -1 where a row has fewer than k. */
  ids: Int32Array;
  distances: Float32Array;
}

/** An index on one device with one bundle's kernels. */
export class CrinnSearcher {
  readonly index: Index;
  readonly params: Partial<SearchParams>;
  readonly knobs: Record<string, Record<string, number>>;
  private readonly core: BeamSearchCore;

  constructor(device: GPUDevice, index: Index, sources: SearchKernelSources, params: Partial<SearchParams> = {}, knobs: Record<string, Record<string, number>> = {}) {
    this.index = index;
    this.params = params;
    this.knobs = knobs;
    const ctx = browserContext(device);
    // The pipeline cache the Node engine uses (src/gpu/pipeline.ts), over this page's device.
    this.core = new BeamSearchCore(ctx, index, sources, (kernel) => kernelPipeline(ctx, kernel));
  }

  /**
   * Top-k of every query (row-major, index.dim floats each). `effort` is the bench's knob: itopk
   * when >= k, else itopk = k with that many main-graph iterations; `extra` overrides bundle params.
   */
  async search(queries: Float32Array | ArrayLike<number>[], k: number, effort = 64, extra: Partial<SearchParams> = {}): Promise<SearchResult> {
    const dim = this.index.dim;
    const data = queries instanceof Float32Array ? queries : Float32Array.from(queries.flatMap((q) => Array.from(q)));
    if (data.length % dim !== 0) throw new Error(`queries: ${data.length} floats is not a multiple of the index's dimension ${dim}`);
    const r = await this.core.search({ data, n: data.length / dim, dim }, k, { ...this.paramsAt(effort, k), ...extra });
    return { ids: r.ids, distances: r.distances ?? new Float32Array(r.ids.length) };
  }

  /** Search params at one effort: the bundle's knobs mapped as the evaluator maps them, else its params. */
  paramsAt(effort: number, k: number): Partial<SearchParams> {
    const search = this.knobs.search;
    const p = search ? searchParamsFor('search', search, effort, k) : { ...this.params, ...effortParams(effort, k) };
    // A tuned refine module's factor applies where the index has an f32 rerank to do (its codec needs one).
    if (this.knobs.refine && codecFor(this.index.storage).needsRefine) p.refine = searchParamsFor('refine', this.knobs.refine, effort, k).refine;
    return p;
  }

  destroy(): void {
    this.core.destroy();
  }
}

/**
 * sha256 of a module's baseline files as the exporter records it (src/bundle/baseline.ts
 * baselineFilesHash: base name, NUL, content, NUL; sorted by name), over `files` (name -> text).
 */
export async function baselineFilesDigest(files: Record<string, string>): Promise<string> {
  const enc = new TextEncoder();
  const parts = Object.keys(files).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).flatMap((name) => [enc.encode(`${name}\0`), enc.encode(files[name]), enc.encode('\0')]);
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', all)), (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * One line per module of an exported bundle whose recorded baseline (modules.<m>.baselineFiles)
 * differs from `fallback`'s copies of that module's files: the files the bundle leaves out then
 * come from another baseline than the one it was measured against (the library's check, in the page).
 */
export async function baselineNotes(bundle: Bundle, fallback: Bundle): Promise<string[]> {
  const modules = (bundle.manifest?.modules ?? {}) as Record<string, { baselineFiles?: unknown }>;
  const names = searchKernelFiles();
  const notes: string[] = [];
  for (const mod of ['search', 'refine'] as const) {
    const recorded = modules[mod]?.baselineFiles;
    if (typeof recorded !== 'string') continue;
    const files: Record<string, string> = {};
    for (const role of moduleKernelRoles(mod)) {
      const hit = Object.keys(fallback.files).find((k) => baseName(k) === names[role]);
      if (hit !== undefined) files[names[role]] = fallback.files[hit];
    }
    const own = await baselineFilesDigest(files);
    if (own !== recorded) notes.push(`kernel bundle: exported against other ${mod} baseline files (${recorded.slice(0, 12)}, the fallback bundle ${own.slice(0, 12)}); the files it leaves out come from the fallback`);
  }
  return notes;
}

/**
 * Opens an index (file bytes) on `device` with `bundle`'s kernels and host params; roles the
 * bundle lacks come from `opts.fallback` (the shipped baseline bundle). Where the fallback's files
 * differ from the baseline the bundle was exported against, `opts.onMessage` (default console.warn)
 * gets one line per module.
 */
export async function open(device: GPUDevice, indexBytes: ArrayBuffer | Uint8Array, bundle: Bundle, opts: { fallback?: Bundle; name?: string; onMessage?: (line: string) => void } = {}): Promise<CrinnSearcher> {
  if (opts.fallback) for (const line of await baselineNotes(bundle, opts.fallback)) (opts.onMessage ?? ((l: string) => console.warn(l)))(line);
  const index = await parseIndex(indexBytes, opts.name);
  return new CrinnSearcher(device, index, bundleSources(bundle, opts.fallback), bundle.params ?? {}, bundle.knobs ?? {});
}
