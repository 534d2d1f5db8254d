/**
 * Tuned-kernel bundles in the library and in `crinn bench --kernel`: a bundle exported from a run
 * folder is picked for this adapter, runs (recall against the exact oracle), compiles on every
 * adapter `crinn adapters` lists; a planted search shader is really the one run; an adapter
 * mismatch falls back with a message; a tampered bundle is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { GpuContext } from '../../src/gpu/device.ts';
import { openGpu } from '../../src/gpu/device.ts';
import { dawnProvider } from '../../src/gpu/provider.ts';
import { enumerateAdapters, platformBackends } from '../../src/gpu/adapters.ts';
import { loadDataset } from '../../src/data/resolve.ts';
import { bruteForceKnn } from '../../src/data/metric.ts';
import { recallAtK } from '../../src/bench/recall.ts';
import type { Dataset, Neighbors } from '../../src/data/types.ts';
import { exportRun } from '../../src/evolve/export.ts';
import { bundleContentHash, readBundle } from '../../src/bundle/format.ts';
import { AnnEngine, buildIndex, type Index } from '../../src/search/engine.ts';
import { bundleDirs, loadKernelBundle, pickKernelBundle, SHIPPED_KERNELS } from '../../src/search/bundle.ts';
import { baselineFilesHash } from '../../src/bundle/baseline.ts';
import type { ModuleName } from '../../src/bundle/module-manifest.ts';
import { kernelSearchParams } from '../../src/search/kernel-params.ts';
import { UserError } from '../../src/errors.ts';
import { openTestGpu } from '../gpu/helpers.ts';
import { realKernelRun } from './bundle-fixture.ts';
import { spawnCli } from '../cli/helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const K = 10;

let ctx: GpuContext;
let ds: Dataset;
let oracle: Neighbors;
let kernelsDir: string;
let good: string;
let other: string;

const recall = (r: Neighbors) => recallAtK(r, ds.base, ds.queries, ds.metric, oracle, K).recall;

/** A copy of the good bundle with `edit` applied, re-signed (content hash recomputed) unless `resign` is false. */
function variantOf(name: string, edit: (dir: string) => void, resign = true): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'crinn-kb-')), name);
  cpSync(good, dir, { recursive: true });
  edit(dir);
  if (resign) {
    const file = path.join(dir, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...m, name, contentHash: bundleContentHash(dir) }, null, 2));
  }
  return dir;
}

/**
 * Writes `fn(text)` to the bundle file `rel` ('search/beam_search.wgsl'), starting from the bundle's
 * copy or, as the exporter leaves out files equal to the shipped baseline, from shaders/; lists it
 * in the manifest's search module.
 */
function plant(dir: string, rel: string, fn: (text: string) => string): void {
  const file = path.join(dir, rel);
  const src = existsSync(file) ? readFileSync(file, 'utf8') : readFileSync(path.join(ROOT, 'shaders', path.basename(rel)), 'utf8');
  const out = fn(src);
  expect(out).not.toBe(src);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, out);
  const mf = path.join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(mf, 'utf8'));
  m.modules.search.files = [...new Set([...m.modules.search.files, rel])];
  writeFileSync(mf, JSON.stringify(m, null, 2));
}

beforeAll(async () => {
  ctx = await openTestGpu();
  ds = await loadDataset('synthetic-2000-d16');
  oracle = bruteForceKnn(ds.base, ds.queries, K, ds.metric);
  const run = await realKernelRun(ctx.adapter.name, undefined, 30);
  kernelsDir = mkdtempSync(path.join(tmpdir(), 'crinn-kernels-'));
  const a = ctx.adapter;
  good = exportRun(run, { out: path.join(kernelsDir, 'good'), adapter: { name: a.name, backend: a.backend, vendor: a.vendor, architecture: a.architecture } }).dir;
  other = exportRun(run, { out: path.join(kernelsDir, 'other'), adapter: { name: 'nvidia-h200 (vulkan)', backend: 'vulkan' } }).dir;
}, 60_000);
afterAll(() => ctx?.destroy());

async function engineWith(kernels: string | undefined, messages: string[] = []): Promise<{ engine: AnnEngine; index: Index }> {
  const bundle = kernels ? pickKernelBundle(kernels, ctx.adapter, { onMessage: (l) => messages.push(l) }) : undefined;
  const { index } = await buildIndex(ds.base, ds.metric, { seed: 1 }, { ctx, kernels: bundle, quiet: true });
  return { engine: await AnnEngine.open(ctx, index, { kernels: bundle }), index };
}

describe('kernel bundles: library', () => {
  it('picks the bundle for this adapter from a folder of bundles; it runs its knobs and reaches the oracle', async () => {
    const messages: string[] = [];
    const { engine, index } = await engineWith(kernelsDir, messages);
    try {
      expect(messages).toEqual([]);
      expect(engine.kernels?.dir).toBe(good);
      // The run's variants are the shipped sources with tuned knobs: the export leaves every file
      // equal to the baseline out (the loader fills it from shaders/), so no WGSL is duplicated.
      expect(readdirSync(good).sort()).toEqual(['manifest.json', 'params.json']);
      expect(Object.values(readBundle(good).modules).map((m) => m!.files)).toEqual([[], [], []]);
      // Each module records which baseline it was compared against: this package's.
      for (const [mod, entry] of Object.entries(readBundle(good).modules)) expect(entry!.baselineFiles, mod).toBe(baselineFilesHash(mod as ModuleName));
      expect(engine.kernels?.contentHash).toBe(readBundle(good).contentHash);
      const knobs = JSON.parse(readFileSync(path.join(good, 'params.json'), 'utf8'));
      expect(engine.kernels?.knobs).toEqual(knobs);
      // The refine stage was tuned: the index is f16 as it was measured, refine = refineFactor x k.
      expect(index.storage).toBe('f16');
      const p = kernelSearchParams(engine.kernels!, K, { itopk: 64 }, true);
      expect(p.refine).toBe(Math.min(64, knobs.refine.refineFactor * K));
      expect(p.numSeeds).toBe(knobs.search.numSeeds);
      expect(p.maxIterations).toBe(64 + knobs.search.iterationSlack);
      // Explicit per-call params win.
      expect(kernelSearchParams(engine.kernels!, K, { itopk: 64, numSeeds: 3 }, true).numSeeds).toBe(3);
      expect(recall(await engine.search(ds.queries, K, { itopk: 64 }))).toBeGreaterThanOrEqual(0.97);
    } finally {
      engine.destroy();
    }
  }, 120_000);

  it('a planted search shader (distances negated) is the one run: recall collapses, the baseline on the same index does not', async () => {
    const planted = variantOf('planted', (dir) => {
      for (const f of ['search/base_f16.wgsl', 'search/base_f32.wgsl']) plant(dir, f, (src) => src.replace(/(fn l2_partial[\s\S]*?)return acc;/, '$1return -acc;'));
    });
    const { engine, index } = await engineWith(planted);
    const baseline = new AnnEngine(ctx, index);
    try {
      expect(engine.kernels?.name).toBe('planted');
      expect(recall(await engine.search(ds.queries, K, { itopk: 64 }))).toBeLessThan(0.3);
      expect(recall(await baseline.search(ds.queries, K, { itopk: 64 }))).toBeGreaterThanOrEqual(0.97);
    } finally {
      engine.destroy();
      baseline.destroy();
    }
  }, 120_000);

  it('a planted shader that does not compile fails the search with the WGSL error', async () => {
    const broken = variantOf('broken', (dir) => plant(dir, 'search/beam_search.wgsl', (src) => `${src}\nfn broken( {\n`));
    const { engine } = await engineWith(broken);
    try {
      await expect(engine.search(ds.queries, K, { itopk: 32 })).rejects.toThrow(/beam_search/);
    } finally {
      engine.destroy();
    }
  }, 120_000);

  it('no bundle for this adapter: the baseline kernels, and one line saying why', async () => {
    const messages: string[] = [];
    const { index } = await buildIndex(ds.base, ds.metric, { seed: 1 }, { ctx, quiet: true });
    const engine = await AnnEngine.open(ctx, index, { kernels: other, onMessage: (l) => messages.push(l) });
    try {
      expect(engine.kernels).toBeUndefined();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(new RegExp(`no kernel bundle in .*other matches adapter '${ctx.adapter.name.replace(/[()]/g, '\\$&')}' \\(bundles are for: nvidia-h200 \\(vulkan\\)\\); using the baseline kernels`));
      expect(messages[0]).not.toContain('\n');
      expect(recall(await engine.search(ds.queries, K, { itopk: 64 }))).toBeGreaterThanOrEqual(0.97);
    } finally {
      engine.destroy();
    }
  }, 120_000);

  it("the package's kernels/ folder: every bundle there validates; this adapter gets its own or the baseline with a note", () => {
    const messages: string[] = [];
    const b = pickKernelBundle(SHIPPED_KERNELS, ctx.adapter, { onMessage: (l) => messages.push(l) });
    if (b) expect(b.adapter).toBe(ctx.adapter.name);
    else expect(messages[0]).toMatch(/^no kernel bundle (in|in .* matches adapter)/);
    // kernels/baseline holds module manifests, not a bundle.
    expect(bundleDirs(SHIPPED_KERNELS)).not.toContain(path.join(SHIPPED_KERNELS, 'baseline'));
  });

  it('a bundle exported against other baseline files still loads, with one line saying its left-out files come from this package', () => {
    const older = variantOf('older-baseline', (dir) => {
      const mf = path.join(dir, 'manifest.json');
      const m = JSON.parse(readFileSync(mf, 'utf8'));
      m.modules.search.baselineFiles = 'a'.repeat(64);
      writeFileSync(mf, JSON.stringify(m, null, 2));
    });
    const messages: string[] = [];
    const b = loadKernelBundle(older, (l) => messages.push(l));
    expect(b.name).toBe('older-baseline');
    expect(messages).toEqual([`kernel bundle older-baseline: exported against other search baseline files (aaaaaaaaaaaa, this package ${baselineFilesHash('search').slice(0, 12)}); the files it leaves out come from this package's baseline`]);
    // The shipped bundles record this package's baseline: no such line.
    const shipped: string[] = [];
    for (const d of bundleDirs(SHIPPED_KERNELS)) loadKernelBundle(d, (l) => shipped.push(l));
    expect(shipped).toEqual([]);
  });

  it('a tampered bundle (a file edited, hash not updated) is refused with one line naming its manifest', async () => {
    const tampered = variantOf('tampered', (dir) => writeFileSync(path.join(dir, 'params.json'), readFileSync(path.join(dir, 'params.json'), 'utf8').replace(/"numSeeds": \d+/, '"numSeeds": 64')), false);
    const { index } = await buildIndex(ds.base, ds.metric, { seed: 1 }, { ctx, quiet: true });
    const err = await AnnEngine.open(ctx, index, { kernels: tampered }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`${path.join(tampered, 'manifest.json')}: contentHash does not match the bundle's files (${bundleContentHash(tampered).slice(0, 12)}); the bundle was edited`);
    expect(() => loadKernelBundle(tampered)).toThrow(UserError);
  }, 60_000);

  it("the bundle's WGSL compiles and searches correctly on every adapter `crinn adapters` lists", async () => {
    const adapters = await enumerateAdapters(await dawnProvider(), platformBackends());
    expect(adapters.length).toBeGreaterThanOrEqual(1);
    const bundle = loadKernelBundle(good);
    const seen: string[] = [];
    for (const a of adapters) {
      const d = a.description;
      const c = d.name === ctx.adapter.name ? ctx : await openGpu({ backend: d.backend });
      try {
        expect(c.adapter.name).toBe(d.name);
        // f16 rows where the adapter has shader-f16 (the bundle's own storage), else f32.
        for (const storage of d.features.includes('shader-f16') ? (['f16', 'f32'] as const) : (['f32'] as const)) {
          const { index } = await buildIndex(ds.base, ds.metric, { seed: 1 }, { ctx: c, kernels: bundle, storage, quiet: true });
          const engine = new AnnEngine(c, index, { kernels: bundle });
          try {
            expect(recall(await engine.search(ds.queries, K, { itopk: 64 })), `${d.name} ${storage}`).toBeGreaterThanOrEqual(0.97);
          } finally {
            engine.destroy();
          }
          seen.push(`${d.name} ${storage}`);
        }
      } finally {
        if (c !== ctx) c.destroy();
      }
    }
    expect(seen.length).toBeGreaterThanOrEqual(adapters.length);
  }, 300_000);
});

// One after another: run side by side, the benches would each compile the same kernels cold.
describe('kernel bundles: crinn bench --kernel (new process)', () => {
  const node = path.join(ROOT, 'node_modules/.bin/node');
  const crinn = (...args: string[]) => spawnCli(existsSync(node) ? node : process.execPath, ['src/cli/main.ts', ...args], { cwd: ROOT, env: { ...process.env, CRINN_STDERR_FILTERED: '1' }, timeout: 240_000 });

  // One bench run for both claims (each run compiles every effort's kernels cold): the planted
  // bundle beside the baseline crinn shows the bench names the bundle it ran and really runs it.
  it('runs crinn and crinn-kernel side by side, naming the bundle and its hash; a planted search shader (distances negated) collapses crinn-kernel\'s recall, not crinn\'s', async () => {
    const planted = variantOf('planted-cli', (dir) => {
      for (const f of ['search/base_f16.wgsl', 'search/base_f32.wgsl']) plant(dir, f, (src) => src.replace(/(fn l2_partial[\s\S]*?)return acc;/, '$1return -acc;'));
    });
    const r = await crinn('bench', '--dataset', 'synthetic-2000-d16', '--peers', 'bruteforce', '--kernel', planted, '--json', '-');
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    const byName = Object.fromEntries(result.systems.map((s: { name: string }) => [s.name, s]));
    expect(Object.keys(byName).sort()).toEqual(['bruteforce', 'crinn', 'crinn-kernel']);
    const m = readBundle(planted);
    expect(byName['crinn-kernel'].params).toMatchObject({ bundle: 'planted-cli', bundleHash: m.contentHash, bundleDir: planted, storage: 'f16' });
    expect(byName['crinn-kernel'].error).toBeUndefined();
    expect(r.stderr).toContain(`crinn-kernel: bundle planted-cli (content ${m.contentHash.slice(0, 12)}`);
    // Recall is scored against the exact ground truth; bruteforce is the oracle row.
    const best = (name: string) => Math.max(...byName[name].points.map((p: { recall: number }) => p.recall));
    expect(byName['crinn-kernel'].points.length).toBeGreaterThan(0);
    expect(best('crinn-kernel')).toBeLessThan(0.3);
    expect(best('crinn')).toBeGreaterThanOrEqual(0.97);
    expect(byName.crinn.summary.auc).toBeGreaterThan(0);
  }, 300_000);

  it('no bundle for this adapter: crinn-kernel runs the baseline kernels (the README), the row does not fail, stderr has the one-line note', async () => {
    const r = await crinn('bench', '--dataset', 'synthetic-2000-d16', '--systems', 'crinn-kernel', '--peers', 'bruteforce', '--kernel', other, '--json', '-');
    expect(r.status, r.stderr).toBe(0);
    const sys = JSON.parse(r.stdout).systems.find((s: { name: string }) => s.name === 'crinn-kernel');
    expect(sys.error).toBeUndefined();
    expect(sys.points.length).toBeGreaterThan(0);
    expect(Math.max(...sys.points.map((p: { recall: number }) => p.recall))).toBeGreaterThanOrEqual(0.97);
    expect(sys.params).toMatchObject({ bundle: null, bundleDir: path.resolve(other) });
    expect(r.stderr.split('\n').filter((l) => l.startsWith('crinn: no kernel bundle in'))).toHaveLength(1);
    expect(r.stderr).toContain('(bundles are for: nvidia-h200 (vulkan))');
    expect(r.stderr).toContain(`crinn-kernel: no bundle in ${path.resolve(other)} for this adapter; it ran the baseline kernels`);
  }, 120_000);

  it('a bundle folder with a garbled manifest.json: exit 1, one line naming the file, before any work', async () => {
    const garbled = mkdtempSync(path.join(tmpdir(), 'crinn-kb-garbled-'));
    writeFileSync(path.join(garbled, 'manifest.json'), '{"format": "crinn-kernel-bundle", ');
    const r = await crinn('bench', '--dataset', 'synthetic-2000-d16', '--peers', 'bruteforce', '--kernel', garbled);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${path.join(garbled, 'manifest.json')}: not valid JSON`);
  }, 60_000);

  it('a tampered bundle: exit 1, one line naming the manifest, before any work', async () => {
    const tampered = variantOf('tampered-cli', (dir) => {
      mkdirSync(path.join(dir, 'search'), { recursive: true });
      writeFileSync(path.join(dir, 'search/beam_search.wgsl'), '// nothing\n');
    }, false);
    const r = await crinn('bench', '--dataset', 'synthetic-2000-d16', '--peers', 'bruteforce', '--kernel', tampered);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${path.join(tampered, 'manifest.json')}: contentHash does not match`);
  }, 60_000);
});
