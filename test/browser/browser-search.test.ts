/**
 * The browser loader against the Node engine: the same index file and parameters searched by Dawn
 * (GpuSearcher) and inside headless Chromium's WebGPU adapter (src/browser/crinn-browser.ts via the
 * page) give the same ids up to ties and the same recall@10; the page's screenshot and text show
 * the numbers. Skipped, with the reason, where no Chromium is installed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { GpuContext } from '../../src/gpu/device.ts';
import type { Dataset } from '../../src/data/types.ts';
import { loadDataset } from '../../src/data/resolve.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import { buildIndex, loadIndex, saveIndex, type Index } from '../../src/search/engine.ts';
import { GpuSearcher } from '../../src/search/gpu-search.ts';
import { effortParams, type SearchParams } from '../../src/search/params.ts';
import { findChromium, launchChromium } from '../../src/bench/browser-chromium.ts';
import { servePage, type PageRow } from '../../src/bench/browser-server.ts';
import { runBrowserBench } from '../../src/bench/browser-bench.ts';
import { BUNDLE_FORMAT, BUNDLE_VERSION, bundleContentHash, readBundle } from '../../src/bundle/format.ts';
import { searchParamsFor } from '../../src/search/knob-params.ts';
import { decodePng } from '../../scripts/check-report-screenshot.ts';
import { openTestGpu } from '../gpu/helpers.ts';
import { spawnCli } from '../cli/helpers.ts';

const chromium = findChromium();
const REASON = chromium ? '' : ' (SKIPPED: no Chromium at /usr/bin/chromium or $CRINN_CHROMIUM; apt-get install chromium)';
const EFFORTS = [8, 32];
const K = 10;
const repo = new URL('../../', import.meta.url).pathname;

let ctx: GpuContext;
let ds: Dataset;
let index: Index;
let bytes: Uint8Array;
let dir: string;

beforeAll(async () => {
  if (!chromium) return;
  ctx = await openTestGpu();
  ds = await loadDataset('siftsmall-5k');
  dir = mkdtempSync(join(tmpdir(), 'crinn-browser-test-'));
  const built = await buildIndex(ds.base, ds.metric, { seed: 5 }, { ctx, quiet: true });
  await saveIndex(join(dir, 'index.crinn'), built.index);
  bytes = readFileSync(join(dir, 'index.crinn'));
  index = await loadIndex(join(dir, 'index.crinn'));
}, 300_000);
afterAll(() => {
  ctx?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function l2(q: number, id: number): number {
  let s = 0;
  for (let j = 0; j < ds.base.dim; j++) {
    const d = ds.queries.data[q * ds.base.dim + j] - ds.base.data[id * ds.base.dim + j];
    s += d * d;
  }
  return s;
}

/** Queries whose id lists differ other than by swapping equidistant ids. */
function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const bad: number[] = [];
  for (let q = 0; q < ds.queries.n; q++) {
    const x = Array.from({ length: K }, (_, j) => a[q * K + j]);
    const y = Array.from({ length: K }, (_, j) => b[q * K + j]);
    if (x.every((v, j) => v === y[j])) continue;
    const dx = x.map((id) => l2(q, id)).sort((u, v) => u - v);
    const dy = y.map((id) => l2(q, id)).sort((u, v) => u - v);
    if (!dx.every((d, j) => Math.abs(d - dy[j]) <= 1e-4 * Math.max(1, d))) bad.push(q);
  }
  return bad;
}

/** Id-overlap recall@k against the dataset's ground truth, as the page computes it. */
function overlapRecall(ids: ArrayLike<number>): number {
  const gt = ds.groundTruth!;
  let hit = 0;
  for (let q = 0; q < ds.queries.n; q++) {
    const truth = new Set(gt.ids.subarray(q * gt.k, q * gt.k + K));
    for (let j = 0; j < K; j++) if (truth.has(ids[q * K + j])) hit++;
  }
  return hit / (ds.queries.n * K);
}

/** Serves the index with a bundle, runs the page in Chromium, returns its rows, text and screenshot. */
async function runPage(bundleDir: string | undefined, efforts: number[]): Promise<{ rows: PageRow[]; text: string; png: Buffer; adapter: string }> {
  const gt = ds.groundTruth!;
  const server = await servePage({
    indexBytes: bytes,
    queries: ds.queries.data,
    groundTruth: gt.ids,
    meta: { dataset: ds.name, n: ds.base.n, dim: ds.base.dim, nq: ds.queries.n, metric: ds.metric, k: K, gtK: gt.k, efforts, reps: 1 },
    bundleDir,
  });
  const browser = await launchChromium(chromium!, server.url, { width: 1000, height: 600 });
  try {
    const exited = browser.exited.then(({ code, stderr }) => {
      throw new Error(`chromium exited (${code}): ${stderr.slice(-300)}`);
    });
    const report = await Promise.race([server.report, exited]);
    // The page renders its last row before posting; give layout a moment before the screenshot.
    await new Promise((r) => setTimeout(r, 300));
    const text = await browser.text();
    const png = await browser.screenshot();
    return { rows: report.rows, text, png, adapter: `${report.adapter.vendor} ${report.adapter.architecture}` };
  } finally {
    await server.close();
    await browser.close();
  }
}

async function nodeIds(params: Partial<SearchParams>): Promise<Int32Array> {
  const s = new GpuSearcher(ctx, index);
  try {
    return (await s.search(ds.queries, K, params)).ids;
  } finally {
    s.destroy();
  }
}

/** Search knobs of the test bundles: baseline search WGSL, other knob values than the baseline's. */
const knobs = { searchWidth: 2, teamSize: 32, workgroupSize: 64, numSeeds: 16, entryBeam: 16, iterationSlack: 16, storageF16: 1 };

/**
 * An exported bundle (kernels/README.md format: modules, knob values, content hash) as `crinn
 * export` writes a knob-only variant: no WGSL of its own (files equal to the baseline's are left
 * out), so the page takes every kernel from the baseline bundle.
 */
function writeExportedBundle(b: string, name: string, knobValues: Record<string, number>): void {
  mkdirSync(b, { recursive: true });
  const files: string[] = [];
  writeFileSync(join(b, 'params.json'), JSON.stringify({ search: knobValues }));
  const searchManifest = JSON.parse(readFileSync(join(repo, 'kernels/baseline/search/manifest.json'), 'utf8'));
  const manifest = {
    format: BUNDLE_FORMAT, version: BUNDLE_VERSION, name, createdAt: new Date().toISOString(),
    run: { id: 'test', policy: 'autotune', seed: 1, stages: ['search'], evaluations: 1 },
    adapter: { name: 'llvmpipe' }, dataset: { name: 'siftsmall-5k', fingerprint: null },
    reward: 1, auc: 1, baselineAuc: 1, qpsAt90: null, qpsAt95: null, qpsAt99: null, evaluationsAt95: null, curve: [], baselineCurve: [],
    modules: { search: { hash: 'x', origin: 'autotune', files, knobValues, reward: 1, curve: [], lineage: [], manifest: searchManifest } },
    params: 'params.json', contentHash: bundleContentHash(b),
  };
  writeFileSync(join(b, 'manifest.json'), JSON.stringify(manifest));
}

describe.skipIf(!chromium)(`browser loader in headless Chromium${REASON}`, () => {
  async function check(bundleDir: string | undefined, efforts: number[], params: (effort: number) => Partial<SearchParams>, floors: number[]) {
    const page = await runPage(bundleDir, efforts);
    expect(page.rows.map((r) => r.effort)).toEqual(efforts);
    for (const [i, row] of page.rows.entries()) {
      const ref = await nodeIds(params(row.effort));
      // Same ids as Dawn up to equidistant swaps, hence the same recall.
      expect(mismatches(row.ids, ref)).toEqual([]);
      expect(row.recall).toBeCloseTo(overlapRecall(ref), 2);
      const official = recallAtK({ ids: Int32Array.from(row.ids), nq: ds.queries.n, k: K }, ds.base, ds.queries, ds.metric, ds.groundTruth!, K).recall;
      expect(official).toBeGreaterThanOrEqual(floors[i]);
      expect(row.qps).toBeGreaterThan(0);
      // The page shows the numbers it posted.
      expect(page.text).toContain(row.recall.toFixed(4));
      expect(page.text).toContain(String(Math.round(row.qps)));
    }
    expect(page.text).toContain('status\ndone');
    // The screenshot shows the table's rows: the header band (th background #f5f5f5) is found,
    // and below it, within its width, the digits are drawn (dark pixels per row).
    const img = decodePng(page.png);
    expect(img.width).toBe(1000);
    const px = (x: number, y: number) => img.rgba.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 3);
    let x0 = Infinity, x1 = -1, y1 = -1;
    for (let y = 0; y < img.height; y++) {
      const xs: number[] = [];
      for (let x = 0; x < img.width; x++) if (px(x, y).every((c) => c === 245)) xs.push(x);
      if (xs.length >= 100) [x0, x1, y1] = [Math.min(x0, xs[0]), Math.max(x1, xs.at(-1)!), y];
    }
    expect(y1).toBeGreaterThan(0);
    let dark = 0;
    for (let y = y1 + 1; y < img.height; y++) for (let x = x0; x <= x1; x++) if (px(x, y).every((c) => c < 100)) dark++;
    expect(dark).toBeGreaterThan(150 * page.rows.length);
    return page;
  }

  it('baseline bundle (shaders/): same ids and recall@10 as Dawn on siftsmall-5k', async () => {
    // Dawn's recall on this index (seed 5), which the page must reproduce: 0.912 at effort 8, 0.998 at 32.
    const page = await check(undefined, EFFORTS, (effort) => effortParams(effort, K), [0.9, 0.99]);
    expect(page.adapter).toMatch(/swiftshader|google/);
  }, 300_000);

  it('an exported bundle (kernels/README.md format: modules, knob values, content hash) runs with its knobs: same ids as Dawn with the evaluator\'s mapping', async () => {
    const b = join(dir, 'bundle');
    writeExportedBundle(b, 'test-export', knobs);
    expect(readBundle(b).name).toBe('test-export');
    // One effort: each effort is one more kernel specialisation for SwiftShader to compile; the
    // baseline test above covers the page's loop over efforts.
    // Dawn with these knobs: 0.998 at effort 32.
    await check(b, [32], (effort) => searchParamsFor('search', knobs, effort, K), [0.99]);
  }, 300_000);

  it('bench --browser with --kernel: the baseline crinn and crinn-kernel (the bundle, in its own page) in one sweep, the bundle named in its row', async () => {
    const b = join(dir, 'kernel-bundle');
    writeExportedBundle(b, 'test-kernel', knobs);
    // One effort, 3 reps: two pages, each compiling its own specialisation on SwiftShader.
    // Relative to the working directory, as `--kernel kernels/NAME` gives it: the page server still finds its WGSL.
    const rel = relative(process.cwd(), b);
    const result = await runBrowserBench({ dataset: ds, k: K, reps: 3, seed: 5, efforts: [32], kernelDir: rel, ctxProvider: () => openTestGpu() });
    expect(result.adapter?.architecture).toMatch(/swiftshader|google/);
    expect(result.systems.map((s) => s.name)).toEqual(['crinn', 'crinn-kernel']);
    const [base, kern] = result.systems;
    expect(base.params.bundle).toBe('baseline (shaders/)');
    expect(kern.params).toMatchObject({ bundle: 'test-kernel', bundleHash: readBundle(b).contentHash, bundleDir: rel, bundleAdapter: 'llvmpipe', storage: 'f16' });
    // The sweep starts at effort 32 and may add lower efforts to reach the recall window.
    const at32 = (s: (typeof result.systems)[number]) => s.points.find((p) => p.effort === 32);
    for (const s of result.systems) {
      expect(s.error, s.name).toBeUndefined();
      // Dawn: 0.998 at effort 32 with either knob set.
      expect(at32(s)?.recall, s.name).toBeGreaterThanOrEqual(0.99);
    }
    // The two rows ran different searches: the bundle's searchWidth 2 does other distance work.
    expect(at32(kern)?.evaluations).toBeGreaterThan(0);
    expect(at32(kern)?.evaluations).not.toBe(at32(base)?.evaluations);
  }, 400_000);
});

// Independent CLI runs: concurrent, so their start-ups overlap.
describe.concurrent('crinn bench --browser: clear one-line errors', () => {
  it('--browser --kernel with a folder of bundles (or with --bundle) is refused up front, one line, exit 1', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'crinn-kernels-'));
    try {
      writeExportedBundle(join(tmp, 'a'), 'a', knobs);
      writeExportedBundle(join(tmp, 'b'), 'b', knobs);
      const cli = (extra: string[]) => spawnCli(process.execPath, [join(repo, 'src/cli/main.ts'), 'bench', '--browser', '--dataset', 'siftsmall-5k', ...extra], { timeout: 60_000 });
      const [folder, both] = await Promise.all([cli(['--kernel', tmp]), cli(['--kernel', join(tmp, 'a'), '--bundle', join(tmp, 'b')])]);
      for (const r of [folder, both]) {
        expect(r.status, r.stderr).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
      expect(folder.stderr).toContain(`--kernel: with --browser, name one bundle folder (${tmp} holds 2 bundles)`);
      expect(both.stderr).toContain('--kernel: not with --bundle');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 70_000);

  it('a --browser-path that does not exist is a one-line error, exit 1', async () => {
    const r = await spawnCli(process.execPath, [join(repo, 'src/cli/main.ts'), 'bench', '--browser', '--browser-path', '/nonexistent/chromium', '--dataset', 'siftsmall-5k'], { timeout: 120_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--browser-path: /nonexistent/chromium does not exist');
  }, 130_000);

  it('a --browser-path that is not executable, or is not Chromium (/bin/true), is refused up front naming the path, exit 1', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'crinn-notchromium-'));
    try {
      const plain = join(tmp, 'chromium');
      writeFileSync(plain, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
      const cases: [string, string][] = [[plain, 'is not executable'], ['/bin/true', 'is not Chromium'], [tmp, 'is not a file']];
      const runs = await Promise.all(cases.map(([bin]) => spawnCli(process.execPath, [join(repo, 'src/cli/main.ts'), 'bench', '--browser', '--browser-path', bin, '--dataset', 'siftsmall-5k'], { timeout: 60_000, env: { ...process.env, CRINN_STDERR_FILTERED: '1' } })));
      for (const [i, [bin, why]] of cases.entries()) {
        const r = runs[i];
        expect(r.status, r.stderr).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toContain(`--browser-path: ${bin} ${why}`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 200_000);

  it.skipIf(!chromium)(`a browser without a WebGPU adapter is a one-line error, exit 2, no JSON written${REASON}`, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'crinn-nowebgpu-'));
    try {
      // Chromium minus --enable-unsafe-webgpu: headless then offers no adapter.
      const wrapper = join(tmp, 'chromium-no-webgpu');
      writeFileSync(wrapper, `#!/bin/bash\na=(); for x in "$@"; do [ "$x" = "--enable-unsafe-webgpu" ] || a+=("$x"); done\nexec ${chromium} "\${a[@]}"\n`, { mode: 0o755 });
      const out = join(tmp, 'r.json');
      const r = await spawnCli(process.execPath, [join(repo, 'src/cli/main.ts'), '--quiet', 'bench', '--browser', '--browser-path', wrapper, '--dataset', 'siftsmall-5k', '--json', out], { timeout: 240_000 });
      expect(r.status).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(/^crinn: bench --browser: .*chromium-no-webgpu: browser page: no WebGPU (adapter|in this browser)/);
      expect(() => readFileSync(out)).toThrow();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 250_000);
});
