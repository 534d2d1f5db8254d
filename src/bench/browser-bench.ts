/**
 * `crinn bench --browser`: the crinn search swept inside headless Chromium's WebGPU adapter. The
 * index is built here (Dawn, as `crinn bench` builds it), served with the kernel bundle on loopback,
 * and the page (src/browser/page.ts, drive mode) runs each search the bench driver asks for and
 * posts the ids back; recall and the sweep are the ordinary runBench ones. The result records
 * Chromium's adapter, so `crinn bench compare` puts it beside a Dawn run of the same dataset.
 */
import { readFile, rm } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvironmentError, UserError, oneLine } from '../errors.ts';
import type { Dataset, VectorSet } from '../data/types.ts';
import type { GpuContext } from '../gpu/device.ts';
import { AnnEngine, buildIndex } from '../search/engine.ts';
import { saveIndex, type VectorStorage } from '../graph/index-file.ts';
import type { BuildParamsInput } from '../graph/params.ts';
import { MAX_ITOPK, effortParams } from '../search/params.ts';
import { findChromium, launchChromium, type Chromium } from './browser-chromium.ts';
import { readBundleFolder, servePage, type BrowserAdapter, type BundleFolder, type PageServer } from './browser-server.ts';
import { BUNDLE_FORMAT } from '../bundle/bundle-id.ts';
import { buildParamsFor, searchParamsFor, storageOf } from '../search/knob-params.ts';
import { codecFor } from '../data/codecs/registry.ts';
import { runBench, type BenchEvent } from './run.ts';
import { parseBenchResult, type AdapterInfo, type BenchResult } from './schema.ts';
import type { BenchSystem, SystemEnv } from './bench-system.ts';

export interface BrowserSystemOptions {
  browserPath?: string;
  /** Kernel bundle folder (manifest.json + WGSL); default the shipped shaders/. */
  bundleDir?: string;
  storage?: VectorStorage;
  build?: BuildParamsInput;
  seed?: number;
  efforts?: number[];
  /** Page start-up limit (adapter, index upload), ms. */
  startTimeoutMs?: number;
  /** System name (default crinn; crinn-kernel for the bundle beside the baseline). */
  name?: string;
}

/** The browser's adapter as a bench adapter record. */
export function browserAdapterInfo(a: BrowserAdapter): AdapterInfo {
  const chrome = /(?:HeadlessChrome|Chrome|Chromium)\/([\d.]+)/.exec(a.userAgent)?.[1] ?? '';
  const arch = a.architecture || a.device || 'unknown';
  return {
    name: `chromium-${arch}`,
    vendor: a.vendor,
    architecture: arch,
    backend: `chromium${chrome ? ` ${chrome}` : ''} webgpu`,
    type: arch === 'swiftshader' ? 'cpu' : 'unknown',
    description: [a.vendor, arch, a.description].filter(Boolean).join(' '),
    limits: { ...a.limits },
    features: [...a.features],
  };
}

/** bundle, bundleHash, bundleDir, bundleAdapter of an exported bundle (kernels/README.md); {} for a plain one. */
function bundleRecord(f: BundleFolder): Record<string, unknown> {
  const m = JSON.parse(f.manifest) as { format?: string; name?: string; contentHash?: string; adapter?: { name?: string } };
  if (m.format !== BUNDLE_FORMAT) return {};
  return { bundle: m.name ?? f.name, bundleHash: m.contentHash, bundleDir: f.dir, bundleAdapter: m.adapter?.name };
}

/** Fails with the first of: the browser exiting, the page failing, a timeout. */
function guard<T>(p: Promise<T>, browser: Chromium, what: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    browser.exited.then(({ code, stderr }) => {
      throw new Error(`chromium exited (code ${code}) during ${what}: ${stderr.trim().split('\n').filter((l) => !/dbus|bus\.cc/.test(l)).slice(-2).join(' | ')}`);
    }),
    new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`chromium: ${what} took over ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The crinn system with its searches run in the browser page; `adapter` is filled once the page is up. */
export function createBrowserCrinn(env: SystemEnv, o: BrowserSystemOptions): BenchSystem & { adapter?: BrowserAdapter; chromiumPath: string } {
  const binary = findChromium(o.browserPath);
  if (!binary) throw new UserError('bench --browser: no Chromium found (tried /usr/bin/chromium, chromium-browser, google-chrome); install it or pass --browser-path');
  let server: PageServer | undefined;
  let browser: Chromium | undefined;
  // Evaluations per query are the adapter-independent work, counted by the Node engine's CPU reference on the same index.
  let counter: AnnEngine | undefined;
  // An exported bundle says how its index was stored and built (search storage or older storageF16, graph knobs).
  const folder = o.bundleDir ? readBundleFolder(o.bundleDir) : undefined;
  const knobs = folder?.knobs ?? {};
  // An exported bundle names itself, its content and its adapter, as the Dawn crinn-kernel row records them.
  const exported = folder ? bundleRecord(folder) : {};
  // No bundle, or one without the knob: f16, the bench's default storage.
  const sk = knobs.search;
  const storage = o.storage ?? storageOf('search', sk?.storage !== undefined ? { storage: sk.storage } : { storageF16: sk?.storageF16 ?? 1 });
  const buildParams: BuildParamsInput = { ...(knobs.graph ? buildParamsFor(knobs.graph) : {}), ...(o.build ?? {}) };
  const sys: BenchSystem & { adapter?: BrowserAdapter; chromiumPath: string } = {
    name: o.name ?? 'crinn',
    kind: 'gpu',
    chromiumPath: binary,
    params: { storage, runtime: 'chromium', bundle: o.bundleDir ?? 'baseline (shaders/)', ...exported, timing: 'wall clock of one batched call, loopback round trip to the page included', effort: 'itopk (>= k), else itopk = k and maxIterations = effort' },
    efforts: o.efforts ?? [4, 8, 16, 24, 32, 48, 64, 96],
    minEffort: 1,
    maxEffort: MAX_ITOPK,
    async build(ds: Dataset) {
      const ctx = await env.gpu();
      const t0 = performance.now();
      const { index } = await buildIndex(ds.base, ds.metric, { ...buildParams, ...(o.seed !== undefined ? { seed: o.seed } : {}) }, { ctx, storage, quiet: true });
      const seconds = (performance.now() - t0) / 1000;
      counter = new AnnEngine(ctx, index);
      const dir = mkdtempSync(join(tmpdir(), 'crinn-browser-'));
      let bytes: Uint8Array;
      try {
        await saveIndex(join(dir, 'index.crinn'), index);
        bytes = await readFile(join(dir, 'index.crinn'));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const gt = ds.groundTruth;
      server = await servePage({
        indexBytes: bytes,
        queries: ds.queries.data,
        groundTruth: gt ? gt.ids : new Int32Array(0),
        meta: { dataset: ds.name, n: ds.base.n, dim: ds.base.dim, nq: ds.queries.n, metric: ds.metric, k: 10, gtK: gt?.k ?? 0, efforts: [], reps: 3 },
        bundleDir: o.bundleDir,
      });
      browser = await launchChromium(binary, `${server.url}?mode=drive`);
      const b = browser;
      void b.exited.then(({ code }) => server?.abort(new Error(`chromium exited (code ${code})`)));
      try {
        sys.adapter = await guard(server.hello, b, 'start-up (WebGPU adapter, index upload)', o.startTimeoutMs ?? 120_000);
      } catch (err) {
        throw new Error(`bench --browser: ${binary}: ${oneLine(err)}`);
      }
      return { seconds, params: { ...index.buildParams, storage: index.storage, builtOn: ctx.adapter.description || ctx.adapter.name, indexBytes: bytes.length } as Record<string, unknown> };
    },
    async search(_queries: VectorSet, k: number, effort: number) {
      if (!server || !browser) throw new Error('crinn (browser): search before build');
      return (await guard(server.search(k, effort), browser, `search at effort ${effort}`, 600_000)).ids;
    },
    async evaluations(queries: VectorSet, k: number, effort: number) {
      if (!counter) throw new Error('crinn (browser): evaluations before build');
      // The params the page searches with (src/browser/crinn-browser.ts paramsAt): the bundle's knobs through the evaluator's mapping.
      const p = sk ? searchParamsFor('search', sk, effort, k) : effortParams(effort, k);
      if (knobs.refine && codecFor(storage).needsRefine) p.refine = searchParamsFor('refine', knobs.refine, effort, k).refine;
      return counter.evaluations(queries, k, p);
    },
    async close() {
      counter?.destroy();
      counter = undefined;
      await server?.close().catch(() => {});
      await browser?.close();
      server = undefined;
      browser = undefined;
    },
  };
  return sys;
}

export interface BrowserBenchOptions extends BrowserSystemOptions {
  dataset: Dataset;
  k?: number;
  reps?: number;
  seed?: number;
  cacheDir?: string;
  onProgress?: (ev: BenchEvent) => void;
  /** Opens the Dawn context used to build the index (and for ground truth on a cache miss). */
  ctxProvider: () => Promise<GpuContext>;
  /**
   * A second row, crinn-kernel: this bundle folder in its own page, beside the baseline crinn row
   * (bundleDir unset) in the same interleaved sweep, so the ratio is the bundle's gain on the
   * browser's adapter. Its storage is the bundle's unless `kernelStorage` is set.
   */
  kernelDir?: string;
  kernelStorage?: VectorStorage;
}

/** Runs the sweep in the browser; the result's adapter is Chromium's. */
export async function runBrowserBench(o: BrowserBenchOptions): Promise<BenchResult> {
  let shared: Promise<GpuContext> | undefined;
  const env: SystemEnv = { gpu: () => (shared ??= o.ctxProvider()) };
  const systems = [createBrowserCrinn(env, o)];
  if (o.kernelDir !== undefined) systems.push(createBrowserCrinn(env, { ...o, name: 'crinn-kernel', bundleDir: o.kernelDir, storage: o.kernelStorage }));
  let result: BenchResult;
  try {
    result = await runBench({ dataset: o.dataset, systems, k: o.k, reps: o.reps, seed: o.seed, cacheDir: o.cacheDir, onProgress: o.onProgress, ctxProvider: o.ctxProvider });
  } finally {
    if (shared) (await shared.catch(() => undefined))?.destroy();
  }
  // No browser adapter (or a page failed to start): an environment fault, said in one line.
  const down = systems.findIndex((s) => !s.adapter);
  if (down >= 0) throw new EnvironmentError((result.systems[down]?.error ?? 'bench --browser: the page never reported a WebGPU adapter').replace(/^build: /, ''));
  const adapter = systems[0].adapter!;
  const chrome = adapter.userAgent.match(/Chrome\/([\d.]+)/)?.[1];
  return parseBenchResult({ ...result, adapter: browserAdapterInfo(adapter), versions: { ...result.versions, ...(chrome ? { chromium: chrome } : {}) } }, 'bench result');
}
