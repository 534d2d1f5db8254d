/**
 * The browser loader's Node-free parts, run here without a browser: its import graph has no Node
 * or package imports (it must load in a page as is), it parses index bytes exactly as loadIndex
 * does (WebCrypto checksum included), and bundles resolve by file name with a baseline fallback.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baselineNotes, bundleSources, CrinnSearcher, loadBundle, manifestParams, parseIndex } from '../../src/browser/crinn-browser.ts';
import { baselineFilesHash, REPO_ROOT } from '../../src/bundle/baseline.ts';
import { searchKernelFiles } from '../../src/search/beam-core.ts';
import { searchParamsFor } from '../../src/search/knob-params.ts';
import { bundleKernelPaths } from '../../src/search/bundle-kernels.ts';
import { effortParams } from '../../src/search/params.ts';
import { loadIndex, saveIndex } from '../../src/graph/index-file.ts';
import { buildEntryLayer } from '../../src/graph/entry-layer.ts';
import { randomSet } from '../gpu/helpers.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** A fetch that serves `served` under http://h/b/ and logs each path asked for. */
function serving(served: Record<string, string>, fetched: string[]): typeof fetch {
  return (async (url: URL) => {
    const rel = url.pathname.replace(/^\/b\//, '');
    fetched.push(rel);
    return rel in served ? new Response(served[rel]) : new Response('', { status: 404 });
  }) as unknown as typeof fetch;
}

/** Value imports (type-only ones are erased) of a TypeScript file, transitively. */
function importGraph(entry: string): { files: string[]; external: string[] } {
  const seen = new Set<string>();
  const external: string[] = [];
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
      if (m[1]) continue;
      const spec = m[2];
      if (!spec.startsWith('.')) external.push(`${file.slice(SRC.length)} -> ${spec}`);
      else walk(resolve(dirname(file), spec));
    }
  };
  walk(join(SRC, entry));
  return { files: [...seen].map((f) => f.slice(SRC.length)), external };
}

describe('browser loader', () => {
  it('imports nothing from Node or packages, and shares the engine modules (beam-core, index-format)', () => {
    const g = importGraph('browser/crinn-browser.ts');
    expect(g.external).toEqual([]);
    expect(g.files).toContain('search/beam-core.ts');
    expect(g.files).toContain('graph/index-format.ts');
    // The Node engine runs the same host code.
    expect(readFileSync(join(SRC, 'search/gpu-search.ts'), 'utf8')).toContain("from './beam-core.ts'");
    expect(readFileSync(join(SRC, 'graph/index-file.ts'), 'utf8')).toContain("from './index-format.ts'");
  });

  it('parses index bytes like loadIndex, and refuses a flipped byte (WebCrypto SHA-256)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crinn-loader-'));
    try {
      const set = randomSet(300, 12, 7);
      const neighbors = new Uint32Array(300 * 4).map((_, i) => (Math.floor(i / 4) + 1 + (i % 4)) % 300);
      const entryPoints = new Uint32Array([0, 5]);
      const entryLayer = buildEntryLayer(set.data, 300, 12, 'l2', entryPoints, { fraction: 0.1, k: 4, degree: 4 });
      const file = join(dir, 'i.crinn');
      await saveIndex(file, { metric: 'l2', dim: 12, n: 300, storage: 'f16', vectors: set.data, graph: { n: 300, degree: 4, neighbors }, entryPoints, entryLayer, buildParams: { seed: 1 } as never });
      const bytes = readFileSync(file);
      const a = await parseIndex(bytes);
      const b = await loadIndex(file);
      expect(a.storage).toBe('f16');
      expect(Buffer.from(a.vectors.buffer).equals(Buffer.from(b.vectors.buffer))).toBe(true);
      expect(Buffer.from(a.graph.neighbors.buffer).equals(Buffer.from(b.graph.neighbors.buffer))).toBe(true);
      expect(Array.from(a.entryLayer.ids)).toEqual(Array.from(b.entryLayer.ids));
      const bad = Uint8Array.from(bytes);
      bad[200] ^= 1;
      await expect(parseIndex(bad, 'x.crinn')).rejects.toThrow('x.crinn: corrupted (checksum mismatch)');
      await expect(parseIndex(bytes.subarray(0, 100), 'x.crinn')).rejects.toThrow(/x\.crinn: truncated/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resolves kernels by file name, falls back to the baseline per role, and keeps known host params only', () => {
    const base = { files: { 'beam_search.wgsl': 'B', 'base_f32.wgsl': 'F32', 'base_f16.wgsl': 'F16', 'refine.wgsl': 'R', 'topk_select.wgsl': 'T', 'filter_labels.wgsl': 'FL' } };
    const s = bundleSources({ files: { 'kernels/beam_search.wgsl': 'B2' } }, base);
    expect(s).toEqual({ beam: 'B2', baseF32: 'F32', baseF16: 'F16', refine: 'R', topk: 'T', filter: 'FL' });
    expect(() => bundleSources({ files: {} })).toThrow('bundle: no beam_search.wgsl');
    expect(manifestParams({ params: { search: { searchWidth: 2, itopk: 99, bogus: 1 } }, knobValues: { hashBits: 10 } })).toEqual({ searchWidth: 2, hashBits: 10 });
  });

  it('an exported bundle (modules with files and knob values) loads by fetch and maps knobs as the evaluator does', async () => {
    const served: Record<string, string> = {
      'manifest.json': JSON.stringify({ format: 'crinn-kernel-bundle', modules: { search: { files: ['search/beam_search.wgsl', 'search/base_f16.wgsl'], knobValues: { searchWidth: 2, iterationSlack: 8 } }, refine: { files: ['refine/refine.wgsl'], knobValues: { refineFactor: 3 } } }, params: 'params.json' }),
      'search/beam_search.wgsl': 'BEAM', 'search/base_f16.wgsl': 'F16', 'refine/refine.wgsl': 'REF',
    };
    const fetched: string[] = [];
    const fake = serving(served, fetched);
    const b = await loadBundle('http://h/b/', fake);
    expect(fetched.sort()).toEqual(['manifest.json', 'refine/refine.wgsl', 'search/base_f16.wgsl', 'search/beam_search.wgsl']);
    expect(b.knobs).toEqual({ search: { searchWidth: 2, iterationSlack: 8 }, refine: { refineFactor: 3 } });
    // paramsAt without a device: the mapping only reads the index's storage.
    const at = CrinnSearcher.prototype.paramsAt;
    const self = (storage: string, knobs: object) => ({ index: { storage }, knobs, params: {} });
    expect(at.call(self('f16', b.knobs!) as never, 32, 10)).toEqual({ ...searchParamsFor('search', b.knobs!.search, 32, 10), refine: 30 });
    expect(at.call(self('f32', {}) as never, 4, 10)).toEqual(effortParams(4, 10));
  });

  it("an exported bundle's files fill only their own module's roles: the library's rule (bundleKernelPaths)", async () => {
    // beam_search.wgsl under refine/ and graph/prune.ts fill no role; the library skips them too.
    const modules = { search: { files: ['search/beam_search.wgsl'] }, refine: { files: ['refine/refine.wgsl', 'refine/beam_search.wgsl'] }, graph: { files: ['graph/prune.ts'] } };
    expect(bundleKernelPaths(modules)).toEqual({ beam: 'search/beam_search.wgsl', refine: 'refine/refine.wgsl' });
    const served: Record<string, string> = {
      'manifest.json': JSON.stringify({ format: 'crinn-kernel-bundle', modules, params: 'params.json' }),
      'search/beam_search.wgsl': 'BEAM', 'refine/refine.wgsl': 'REF', 'refine/beam_search.wgsl': 'WRONG', 'graph/prune.ts': 'TS',
    };
    const fetched: string[] = [];
    const fake = serving(served, fetched);
    const b = await loadBundle('http://h/b/', fake);
    expect(fetched.sort()).toEqual(['manifest.json', 'refine/refine.wgsl', 'search/beam_search.wgsl']);
    const base = { files: { 'beam_search.wgsl': 'B', 'base_f32.wgsl': 'F32', 'base_f16.wgsl': 'F16', 'refine.wgsl': 'R', 'topk_select.wgsl': 'T', 'filter_labels.wgsl': 'FL' } };
    expect(bundleSources(b, base)).toEqual({ beam: 'BEAM', baseF32: 'F32', baseF16: 'F16', refine: 'REF', topk: 'T', filter: 'FL' });
  });

  it("says in one line when the fallback's files differ from the baseline an exported bundle recorded (the library's check, with WebCrypto)", async () => {
    // The fallback the page gets: the shipped shaders/ files, by base name (src/bench/browser-server.ts baselineBundle).
    const files = Object.fromEntries(Object.values(searchKernelFiles()).map((f) => [f, readFileSync(join(REPO_ROOT, 'shaders', f), 'utf8')]));
    const shipped = JSON.parse(readFileSync(join(REPO_ROOT, 'kernels', 'llvmpipe-llvm-15-0-6-256-bits-vulkan--siftsmall-5k', 'manifest.json'), 'utf8')) as { modules: Record<string, { baselineFiles?: string }> };
    expect(shipped.modules.search.baselineFiles).toBe(baselineFilesHash('search'));
    // The page's digest of the fallback equals the Node exporter's: no note.
    expect(await baselineNotes({ files: {}, manifest: shipped }, { files })).toEqual([]);
    const other = { ...files, 'beam_search.wgsl': `${files['beam_search.wgsl']}\n// another release` };
    const notes = await baselineNotes({ files: {}, manifest: shipped }, { files: other });
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(new RegExp(`^kernel bundle: exported against other search baseline files \\(${baselineFilesHash('search').slice(0, 12)}, the fallback bundle [0-9a-f]{12}\\)`));
    // A file outside the module (topk_select.wgsl) is not part of what was recorded.
    expect(await baselineNotes({ files: {}, manifest: shipped }, { files: { ...files, 'topk_select.wgsl': 'changed' } })).toEqual([]);
  });
});
