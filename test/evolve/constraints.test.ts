/**
 * The manifests' knob constraints: validated at load (a bad rule names the file and field),
 * evaluated without a GPU by the same functions the GPU search calls, never violated by autotune
 * proposals, and shown in the llm prompt.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { propose, proposeNext, type AutotuneOptions, type Observation } from '../../src/evolve/autotune.ts';
import { describeConstraints, violations } from '../../src/evolve/constraints.ts';
import { moduleManifestSchema, type Knob, type ModuleManifest } from '../../src/bundle/module-manifest.ts';
import { searchParamsFor, storageOf } from '../../src/search/knob-params.ts';
import { codecFor } from '../../src/data/codecs/registry.ts';
import { buildPrompt } from '../../src/evolve/llm/prompt.ts';
import { loadBaseline, loadVariant } from '../../src/evolve/modules.ts';
import { baselineManifest } from '../../src/bundle/baseline.ts';
import { beamWorkgroupBytes as coreBytes } from '../../src/search/beam-core.ts';
import { beamWorkgroupBytes, DEFAULT_WORKGROUP_STORAGE, fitWorkgroupMemory, resolveSearchParams } from '../../src/search/params.ts';

const search = baselineManifest('search');
/** The sweep's efforts (evaluate.ts defaults) and the manifest's ceiling. */
const EFFORTS = [2, 4, 6, 8, 10, 16, 32, 64, 128, 256, 512];
const K = 10;

/**
 * Why a search setting would fail on the GPU: the search params validation (resolveSearchParams)
 * or the workgroup memory check (fitWorkgroupMemory, what BeamSearchCore.resolve runs), at every
 * effort, on the worst-case graph the search stage can get (degree 64, entry degree 32). null: fine.
 */
function gpuRefusal(x: Record<string, number>, limit: number): string | null {
  for (const effort of EFFORTS) {
    try {
      const p = resolveSearchParams(searchParamsFor('search', x, effort, K), K, 64, codecFor(storageOf('search', x)).needsRefine, 2000, 32);
      fitWorkgroupMemory(p, 64, 32, limit);
    } catch (e) {
      return `effort ${effort}: ${(e as Error).message}`;
    }
  }
  return null;
}

/** A stage of autotune proposals against a made-up reward (a fifth of them "fail"), as the loop drives it. */
function proposals(seed: number, n: number, extra: Partial<AutotuneOptions> = {}): Record<string, number>[] {
  const history: Observation[] = [{ knobValues: loadBaseline('search').knobs, reward: 1 }];
  const out: Record<string, number>[] = [];
  for (let i = 0; i < n; i++) {
    const x = proposeNext(search.knobs, history, { seed: seed * 31, index: i, ...extra });
    if (x === null) break;
    out.push(x);
    const r = 1 + 0.1 * Math.sin(seed + i) + x.searchWidth / 20 - x.teamSize / 200;
    history.push({ knobValues: x, reward: (seed + i) % 5 === 0 ? null : r });
  }
  return out;
}

describe('manifest constraints', () => {
  it('the search manifest declares teamSize | workgroupSize and the workgroup-memory bound; graph and refine declare none', () => {
    expect(search.constraints?.map((c) => c.rule)).toEqual(['divides', 'workgroupMemory']);
    expect(baselineManifest('refine').constraints ?? []).toEqual([]);
    expect(baselineManifest('graph').constraints ?? []).toEqual([]);
    expect(violations(search, loadBaseline('search').knobs)).toEqual([]);
  });

  it('a bad constraint fails loading with the manifest file and field', () => {
    const base = JSON.parse(JSON.stringify(search)) as ModuleManifest;
    const check = (constraints: unknown[], want: RegExp) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'crinn-constraint-'));
      const manifest = { ...base, files: base.files.map((f) => path.basename(f)), constraints };
      writeFileSync(path.join(dir, 'variant.json'), JSON.stringify({ manifest, knobValues: {} }));
      expect(() => loadVariant(dir)).toThrow(want);
      try {
        loadVariant(dir);
      } catch (e) {
        expect((e as Error).message).toContain(path.join(dir, 'variant.json'));
      }
    };
    check([{ rule: 'divides', a: 'teamSize', b: 'wgSize' }], /manifest\.constraints\.0\.b: unknown knob 'wgSize'/);
    check([{ rule: 'divides', a: 'teamSize', b: 'workgroupSize' }, { rule: 'between', a: 'teamSize' }], /manifest\.constraints\.1\.rule/);
    check([{ rule: 'workgroupMemory', effort: 512, k: 10, graphDegree: 64 }], /manifest\.constraints\.0\.entryDegree/);
    check([{ rule: 'atMost', a: 'teamSize', b: 'workgroupSize', extra: 1 }], /manifest\.constraints\.0/);
    const r = moduleManifestSchema.safeParse({ ...baselineManifest('refine'), constraints: [{ rule: 'workgroupMemory', effort: 512, k: 10, graphDegree: 64, entryDegree: 32 }] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues[0].path)).toBe('["constraints",0,"rule"]');
  });

  it('the rules: divides, atMost, and the workgroup-memory bound (the adapter limit overrides the 16384 default)', () => {
    const knobs: Knob[] = [
      { name: 'a', min: 1, max: 8, default: 2, scale: 'linear', integer: true, doc: '' },
      { name: 'b', min: 1, max: 8, default: 4, scale: 'linear', integer: true, doc: '' },
    ];
    const m = { module: 'graph' as const, knobs, constraints: [{ rule: 'divides' as const, a: 'a', b: 'b', doc: '' }, { rule: 'atMost' as const, a: 'b', b: 'a', doc: '' }] };
    expect(violations(m, { a: 3, b: 3 })).toEqual([]);
    expect(violations(m, { a: 2, b: 4 })).toEqual(['b 4 must be at most a 2']);
    expect(violations(m, { a: 3 })).toEqual(['a 3 must divide b 4', 'b 4 must be at most a 3']);
    expect(violations(search, { teamSize: 64, workgroupSize: 32 })[0]).toBe('teamSize 64 must divide workgroupSize 32');
    // 16 queries per workgroup, 8 parents of degree 64 each: far over any limit.
    const big = { searchWidth: 8, teamSize: 16, workgroupSize: 256 };
    expect(violations(search, big).join()).toMatch(/needs \d+ bytes of workgroup memory .* allows 16384/);
    // 2 queries, width 4 at degree 64: 2 x (4 x 64 x 8 + 2^9 x 4 + ...) > 16384, but within lavapipe's 32768.
    const mid = { searchWidth: 4, teamSize: 32, workgroupSize: 128 };
    expect(gpuRefusal({ ...loadBaseline('search').knobs, ...mid }, DEFAULT_WORKGROUP_STORAGE)).not.toBeNull();
    expect(violations(search, mid)).toHaveLength(1);
    expect(violations(search, mid, { workgroupStorageLimit: 32768 })).toEqual([]);
    // A smaller graph than the manifest's worst case fits more.
    expect(violations(search, mid, { graphDegree: 16 })).toEqual([]);
  });

  it('the bytes formula lives in params.ts once: the GPU search re-exports the same function', () => {
    expect(coreBytes).toBe(beamWorkgroupBytes);
  });

  it('autotune proposals satisfy the constraints and pass the search params validation and the workgroup memory check (12 seeds x 40)', () => {
    let n = 0;
    const combos = new Set<string>();
    for (let seed = 1; seed <= 12; seed++) {
      for (const x of proposals(seed, 40)) {
        n++;
        combos.add(`${x.searchWidth}/${x.teamSize}/${x.workgroupSize}`);
        expect(violations(search, x), JSON.stringify(x)).toEqual([]);
        expect(gpuRefusal(x, DEFAULT_WORKGROUP_STORAGE), JSON.stringify(x)).toBeNull();
      }
    }
    expect(n).toBe(12 * 40);
    // Still a search: many settings of the constrained knobs, not the default over and over.
    expect(combos.size).toBeGreaterThan(20);
  });

  it('with the adapter limit passed in (lavapipe 32768) proposals fit that limit and reach settings 16384 refuses', () => {
    let beyondDefault = 0;
    for (let seed = 1; seed <= 6; seed++) {
      for (const x of proposals(seed, 40, { constraintContext: { workgroupStorageLimit: 32768 } })) {
        expect(gpuRefusal(x, 32768), JSON.stringify(x)).toBeNull();
        if (gpuRefusal(x, DEFAULT_WORKGROUP_STORAGE) !== null) beyondDefault++;
      }
    }
    expect(beyondDefault).toBeGreaterThan(0);
  });

  it('planted violation: without the constraint filter the same sampler proposes settings the GPU search refuses (so the check above can fail)', () => {
    const refused: string[] = [];
    for (let seed = 1; seed <= 12; seed++) {
      for (const x of proposals(seed, 40, { manifest: null })) {
        const why = gpuRefusal(x, DEFAULT_WORKGROUP_STORAGE);
        if (why !== null) refused.push(why);
      }
    }
    expect(refused.some((r) => r.includes('must be a multiple of teamSize'))).toBe(true);
    expect(refused.some((r) => r.includes('bytes of workgroup memory'))).toBe(true);
  });

  it('a constrained small grid: only valid settings, then exhausted with the reason; an unsatisfiable one says so', () => {
    const knobs: Knob[] = [
      { name: 'team', min: 1, max: 8, default: 2, scale: 'log', integer: true, doc: '' },
      { name: 'group', min: 1, max: 8, default: 8, scale: 'log', integer: true, doc: '' },
    ];
    const manifest = { module: 'graph' as const, knobs, constraints: [{ rule: 'divides' as const, a: 'team', b: 'group', doc: '' }] };
    // Powers of two 1..8 on both: 16 settings, 10 with team | group.
    const h: Observation[] = [{ knobValues: { team: 2, group: 8 }, reward: 1 }];
    for (let i = 0; i < 9; i++) {
      const r = propose(knobs, h, { seed: 3, index: i, manifest });
      if (!('values' in r)) throw new Error(`exhausted early at ${i}: ${r.exhausted}`);
      expect(r.values.group % r.values.team).toBe(0);
      expect(h.some((o) => o.knobValues.team === r.values.team && o.knobValues.group === r.values.group)).toBe(false);
      h.push({ knobValues: r.values, reward: r.values.team / r.values.group });
    }
    expect(propose(knobs, h, { seed: 3, index: 9, manifest })).toEqual({ exhausted: "every one of the 10 settings satisfying the manifest's constraints (of 16) has been evaluated" });
    // team in 1..2, group in 4..8: group <= team never holds.
    const split = knobs.map((k) => (k.name === 'team' ? { ...k, max: 2 } : { ...k, min: 4 }));
    const r = propose(split, [], { seed: 3, index: 0, manifest: { ...manifest, knobs: split, constraints: [{ rule: 'atMost' as const, a: 'group', b: 'team', doc: '' }] } });
    expect(r).toEqual({ exhausted: expect.stringMatching(/none of the \d+ settings satisfies the manifest's constraints/) });
  });

  it("the llm prompt shows the module's constraints, with the adapter's workgroup limit when reported", () => {
    const best = { hash: 'a'.repeat(64), origin: 'baseline', knobValues: loadBaseline('search').knobs, files: loadBaseline('search').sources };
    const input = { module: 'search' as const, manifest: search, best, history: [], failures: [], exemplars: 0, exemplarTemperature: 1, maxFailures: 3, seed: 1 };
    const text = buildPrompt(input).messages[1].content;
    expect(text).toContain('Constraints (every knob setting must satisfy them');
    expect(text).toContain('- teamSize divides workgroupSize');
    expect(text).toContain('one beam-search workgroup must fit in 16384 bytes');
    expect(text).toContain(describeConstraints(search.constraints));
    const lavapipe = buildPrompt({ ...input, adapter: { name: 'llvmpipe', limits: { maxComputeWorkgroupStorageSize: 32768 } } }).messages[1].content;
    expect(lavapipe).toContain('one beam-search workgroup must fit in 32768 bytes');
    const refine = buildPrompt({ ...input, module: 'refine', manifest: baselineManifest('refine'), best: { ...best, files: loadBaseline('refine').sources } }).messages[1].content;
    expect(refine).toMatch(/Constraints \(every knob setting must satisfy them[^\n]*\n\(none\)/);
  });
});
