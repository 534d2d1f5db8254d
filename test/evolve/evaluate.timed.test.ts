/**
 * The evaluator end to end on real Dawn (lavapipe here): an unmodified `variant init` folder scores
 * reward ~1; broken variants fail at the right stage with a reason while the evaluator survives;
 * reward hacks score no better than the baseline. Small synthetic set, few queries and efforts
 * below k (one compiled kernel per system), so an evaluation takes tens of seconds.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initVariant } from '../../src/evolve/variant-init.ts';
import { evaluateVariant, queryPoolFor, type EvaluateOptions } from '../../src/evolve/evaluate.ts';
import { loadBaseline, loadVariant } from '../../src/evolve/modules.ts';
import { buildParamsFor, searchParamsFor } from '../../src/search/knob-params.ts';
import { buildIndex } from '../../src/search/engine.ts';
import { cpuBeamSearch } from '../../src/search/cpu-search.ts';
import { evaluationsAtRecall } from '../../src/bench/reward.ts';
import { verdictSchema, type Verdict } from '../../src/evolve/contract.ts';
import { editedVariant, evalContext, evaluateSmall, expectSelfVsSelf, SPREAD } from './eval-helpers.ts';

const host = (name: string) => fileURLToPath(new URL(`./fixtures/variants/${name}.ts`, import.meta.url));
/**
 * Self-vs-self spread of the reward at these settings: 5 runs on a 2-core machine at load average
 * ~15 (other benchmarks running) gave 0.57, 0.95, 1.05, 1.31, 1.62. Hacks must also show the
 * structural effect they are caught by (merged points, lost recall, a failed stage), not only a low reward.
 */
const LONG = 900_000;
/** Fewer points for hacks caught by recall, rejection or cost (the reward needs no dense curve to show them). */
// Two efforts bracketing the recall window on this set (effort 3: 0.68, effort 10: 0.99), so each
// AUC interpolates across the whole window: with effort 4 (0.875) inside it, one point carried
// the window and the reward-hack intervals widened past +-100% under load.
const LIGHT: Partial<EvaluateOptions> = { efforts: [3, 10], maxPoints: 2 };

const ctx = evalContext('crinn-evaluate-test-');

/** A search variant: the baseline with exact text replacements in beam_search.wgsl (each must match). */
const searchVariant = (edits: [string, string][] = []) => editedVariant(ctx.tmp, 'search', 'beam_search.wgsl', edits);
const evaluate = (variantDir: string, extra: Partial<EvaluateOptions> = {}) => evaluateSmall(variantDir, ctx.ds, extra);

const OUT = 'out_ids[q * params.k_out + j] = select(v & ~EXPANDED, NONE, v == NONE);';

describe('variant init', () => {
  it('writes the baseline as a loadable variant folder and refuses a non-empty one', () => {
    const dir = join(ctx.tmp, 'init');
    initVariant('refine', dir);
    expect(existsSync(join(dir, 'refine.wgsl'))).toBe(true);
    const v = loadVariant(dir);
    expect(v.module).toBe('refine');
    expect(v.knobs).toEqual({ refineFactor: 2 });
    expect(() => initVariant('search', dir)).toThrow(/--out: .* is not empty/);
    // A knob outside its declared range is a load error naming the field.
    const vj = JSON.parse(readFileSync(join(dir, 'variant.json'), 'utf8'));
    vj.knobValues.refineFactor = 99;
    writeFileSync(join(dir, 'variant.json'), JSON.stringify(vj));
    expect(() => loadVariant(dir)).toThrow(/knobValues.refineFactor: 99 is outside 1..8/);
  });
});

describe('evaluateVariant', () => {
  it('scores an unmodified search variant ~1 against the baseline; its work per query is the CPU reference\'s', async () => {
    const seed = 11;
    const v = verdictSchema.parse(await evaluate(searchVariant(), { seed }));
    expect(v.status, v.reason).toBe('ok');
    expect(v.stage).toBe('reward');
    expect(v.reward!).toBeGreaterThan(SPREAD.lo);
    expect(v.reward!).toBeLessThan(SPREAD.hi);
    // The reward is the median of >= 6 paired rounds, inside its own interval.
    expect(v.interval!.rounds).toBeGreaterThanOrEqual(6);
    expect(v.interval!.lo).toBeLessThanOrEqual(v.reward!);
    expect(v.interval!.hi).toBeGreaterThanOrEqual(v.reward!);
    // Both curves reach the window; recall agrees closely (same code, fresh draws of the same pool).
    const top = (c: Verdict['variantCurve']) => Math.max(...c.map((p) => p.recall));
    expect(top(v.variantCurve)).toBeGreaterThan(0.9);
    expect(Math.abs(top(v.variantCurve) - top(v.baselineCurve))).toBeLessThan(0.05);
    // Work per query (informational): the kernel's counter on the probe queries equals the CPU
    // reference's count on the same graph and queries (exact at itopk <= 32, beam-search.test.ts).
    const knobs = loadBaseline('search').knobs;
    const { index } = await buildIndex(ctx.ds.base, ctx.ds.metric, buildParamsFor({}), { quiet: true });
    const probe = queryPoolFor(ctx.ds, 10, seed).batch(0, 32).queries;
    // Counted at the efforts the paired rounds time (a compile each), so on the curve around the window.
    const counted = [...v.variantCurve, ...v.baselineCurve].filter((p) => p.evaluations !== undefined);
    expect(counted.length).toBeGreaterThanOrEqual(2);
    for (const p of counted) {
      const cpu = cpuBeamSearch(index, probe, 10, searchParamsFor('search', knobs, p.effort, 10)).evaluations;
      expect(p.evaluations, `effort ${p.effort}`).toBeCloseTo(cpu.reduce((a, b) => a + b, 0) / probe.n, 6);
    }
    expect(v.evaluationsAt95).not.toBeNull();
    expect(v.evaluationsAt95).toBe(evaluationsAtRecall(v.variantCurve, 0.95));
  }, LONG);

  it.each(['graph', 'refine'] as const)('scores an unmodified %s variant ~1 against the baseline', async (module) => {
    const dir = join(ctx.tmp, `plain-${module}`);
    initVariant(module, dir);
    const v = verdictSchema.parse(await evaluate(dir));
    expect(v.module).toBe(module);
    expectSelfVsSelf(v);
  }, LONG);

  it('context: a refine evaluation searches with the search stage\'s best, on both sides', async () => {
    const refine = join(ctx.tmp, 'ctx-refine');
    initVariant('refine', refine);
    // A search "best" that does not compile: both children use it, so whichever side opens first
    // (random order) fails on it: the variant with a compile verdict, the baseline with an internal error.
    const broken = searchVariant([['let lane = lid % TEAM;', 'let lane = lid % TEAM_MISSING;']]);
    for (const seed of [1, 2, 3, 4]) {
      const r = await evaluate(refine, { context: { search: broken }, seed }).then((v) => `${v.stage}: ${v.reason}`, (e: Error) => e.message);
      expect(r).toMatch(/^(compile: |baseline refine failed to compile: ).*beam_search.*TEAM_MISSING/);
    }
  }, LONG);

  it('a baseline that stalls voids the evaluation (retried once), never the variant\'s failure', async () => {
    const v = verdictSchema.parse(await evaluate(searchVariant(), { ...LIGHT, baselineEntry: host('stall-host'), timeouts: { compileMs: 240_000, correctnessMs: 60_000, callMs: 1000 } }));
    expect([v.status, v.fault], v.reason).toEqual(['void', 'baseline']);
    expect(v.reason).toMatch(/^evaluator fault twice: evaluator fault: baseline search \(timing\): timeout/);
    expect(v.reward).toBeNull();
  }, LONG);

  it('an evaluation past its deadline is cut and void', async () => {
    const t0 = Date.now();
    const v = verdictSchema.parse(await evaluate(searchVariant(), { deadline: Date.now() + 1500 }));
    expect([v.status, v.fault], v.reason).toEqual(['void', 'deadline']);
    expect(v.reason).toMatch(/^cut at the deadline/);
    // Cut at the deadline, not after the whole evaluation (seconds of compile and sweeps).
    expect(Date.now() - t0).toBeLessThan(1500 + 3000);
  }, LONG);

  it('a malformed variant.json fails at load', async () => {
    const dir = searchVariant();
    writeFileSync(join(dir, 'variant.json'), '{"manifest": {}}');
    const v = await evaluate(dir);
    expect([v.status, v.stage]).toEqual(['failed', 'load']);
    expect(v.reason).toMatch(/variant\.json: manifest/);
  }, LONG);

  it('WGSL that does not compile fails at compile with the diagnostic', async () => {
    const v = await evaluate(searchVariant([['let lane = lid % TEAM;', 'let lane = lid % TEAM_MISSING;']]));
    expect([v.status, v.stage]).toEqual(['failed', 'compile']);
    expect(v.reason).toMatch(/TEAM_MISSING/);
  }, LONG);

  it('a shader that never terminates times out, and the evaluator goes on', async () => {
    // After the last barrier (uniformity), an atomic keeps the loop from being optimised away; the counter stays even.
    const endless = searchVariant([['if (!live || !leader) { return; }', 'if (!live || !leader) { return; }\n  loop { if (atomicLoad(&out_evals[0]) == 7u) { break; } atomicAdd(&out_evals[0], 2u); }']]);
    const v = await evaluate(endless, { timeouts: { compileMs: 240_000, correctnessMs: 8_000, callMs: 8_000 } });
    expect([v.status, v.stage]).toEqual(['failed', 'correctness']);
    expect(v.reason).toMatch(/timeout/);
    // The same process evaluates the next variant.
    const next = await evaluate(searchVariant([[OUT, 'out_ids[q * params.k_out + j] = params.n + j;']]));
    expect([next.status, next.stage]).toEqual(['failed', 'correctness']);
  }, LONG);

  it('out-of-range ids fail correctness', async () => {
    const v = await evaluate(searchVariant([[OUT, 'out_ids[q * params.k_out + j] = params.n + j;']]));
    expect([v.status, v.stage]).toEqual(['failed', 'correctness']);
    expect(v.reason).toMatch(/outside \[0, 2000\)/);
  }, LONG);

  it('NaN distances fail correctness (distances are part of the answer, checked against the true ones)', async () => {
    const v = await evaluate(searchVariant([['out_dist[q * params.k_out + j] = d;', 'out_dist[q * params.k_out + j] = bitcast<f32>(0x7fc00000u | params.q_base);']]));
    expect([v.status, v.stage]).toEqual(['failed', 'correctness']);
    expect(v.reason).toMatch(/query 0 result 0: distance NaN of id \d+ is not its true distance/);
  }, LONG);

  it('WGSL writing into an index buffer fails at compile: the layout binds it read-only', async () => {
    const v = await evaluate(searchVariant([
      ['var<storage, read> entries: array<u32>;', 'var<storage, read_write> entries: array<u32>;'],
      ['if (!live || !leader) { return; }', 'if (!live || !leader) { return; }\n  entries[q] = 0u;'],
    ]));
    expect([v.status, v.stage]).toEqual(['failed', 'compile']);
    expect(v.reason).toMatch(/beam_search.*pipeline creation failed.*not compatible with the type in the layout.*ReadOnlyStorage.*@binding\(4\)/s);
  }, LONG);

  it('duplicate ids fail correctness', async () => {
    const v = await evaluate(searchVariant([[OUT, 'out_ids[q * params.k_out + j] = select(top_i[0] & ~EXPANDED, NONE, top_i[0] == NONE);']]));
    expect([v.status, v.stage]).toEqual(['failed', 'correctness']);
    expect(v.reason).toMatch(/returned twice/);
  }, LONG);
});

describe('reward hacks score no better than the baseline', () => {
  const top = (c: Verdict['variantCurve']) => Math.max(...c.map((p) => p.recall));
  const noBetter = (v: Verdict) => {
    if (v.status === 'ok') expect(v.reward!, v.reason).toBeLessThan(SPREAD.hi);
    return v;
  };

  it('fixed ids from the kernel: their distances are not a ranking', async () => {
    // Distances true but in id order, not ascending: the distance check rejects the list itself.
    const v = noBetter(await evaluate(searchVariant([[OUT, 'out_ids[q * params.k_out + j] = j;'], ['out_dist[q * params.k_out + j] = d;', 'out_dist[q * params.k_out + j] = distance(j);']])));
    expect([v.status, v.stage]).toEqual(['failed', 'correctness']);
    expect(v.reason).toMatch(/distances not ascending/);
  }, LONG);

  it('fixed ids from the host, sorted with true distances: below the recall floor', async () => {
    const v = noBetter(await evaluate(searchVariant(), { childEntry: host('fixed-ids-host') }));
    expect([v.status, v.stage]).toEqual(['failed', 'correctness']);
    expect(v.reason).toMatch(/recall 0\.0\d+ at itopk 10 is below the floor 0\.7/);
  }, LONG);

  it('skipping the work of every eighth query', async () => {
    const v = noBetter(await evaluate(searchVariant([
      ['let live = q < params.nq;', 'let live = q < params.nq && (q % 8u) != 3u;'],
      ['if (!live || !leader) { return; }', 'if (q >= params.nq || !leader) { return; }'],
    ])));
    expect(v.status, v.reason).toBe('ok');
    // The lost recall shows: the variant's best point sits ~1/8 below the baseline's.
    const top = (c: Verdict['variantCurve']) => Math.max(...c.map((p) => p.recall));
    expect(top(v.variantCurve)).toBeLessThan(top(v.baselineCurve) - 0.08);
  }, LONG);

  it('ignoring the effort knob (a fixed iteration cap): its points merge into one', async () => {
    // A fixed cap is also a real configuration (64 iterations at the lowest itopk), which can be
    // faster than the baseline's curve at a recall above the window: what the defence guarantees is
    // that its efforts merge into that one point, never that it scores below the baseline.
    const v = await evaluate(searchVariant([['let cap = select(params.max_iter, params.entry_iter, entry);', 'let cap = select(64u, params.entry_iter, entry);']]));
    expect(v.status, v.reason).toBe('ok');
    expect(v.variantCurve).toHaveLength(1);
    expect(v.reason).toMatch(/variant: \d identical configuration\(s\) merged/);
  }, LONG);

  it('a host that answers from the nearest earlier query gains nothing: no query is a near-copy of another', async () => {
    // Against noisy copies of a few sources this host hit 99% (recall 0.992 at 210 distance
    // evaluations vs 0.954 at 272 honest). Distinct queries leave its cached lists far off.
    const v = noBetter(await evaluate(searchVariant(), { childEntry: host('nearest-cache-host') }));
    console.log(`nearest-cache host: ${v.status} ${v.stage}: ${v.reason}`);
    expect(v.status, v.reason).toBe('ok');
    expect(top(v.variantCurve)).toBeLessThan(top(v.baselineCurve) - 0.3);
    expect(v.reward!).toBeLessThan(SPREAD.lo);
  }, LONG);

  it('a host that works only in some repetitions: its points are rejected', async () => {
    const v = noBetter(await evaluate(searchVariant(), { ...LIGHT, childEntry: host('some-reps-host') }));
    // Either most of its points are rejected (failed at timing) or the rejected ones leave it out of
    // the window: measured 'reward 0.000 [0.000, 0.000] ... variant: 1 point(s) rejected'.
    expect(v.reason).toMatch(/repetitions disagree beyond sampling noise|variant: \d point\(s\) rejected \(reps disagree\)/);
    if (v.status === 'ok') expect(v.reward!).toBeLessThan(SPREAD.lo);
    else expect(v.stage).toBe('timing');
  }, LONG);

  it('a host that patches its clocks gains nothing: the parent holds the clock', async () => {
    const v = noBetter(await evaluate(searchVariant(), { ...LIGHT, childEntry: host('clock-host') }));
    expect(v.status, v.reason).toBe('ok');
    expect(v.reward!).toBeGreaterThan(SPREAD.lo);
  }, LONG);

  it('a host that writes the queries into its index buffers gains nothing; the baseline is untouched', async () => {
    const v = noBetter(await evaluate(searchVariant(), { ...LIGHT, childEntry: host('shared-writes-host') }));
    expect(v.status, v.reason).toBe('ok');
    // Rows it overwrote are found at distance 0 and crowd out true neighbours: recall drops.
    expect(top(v.variantCurve)).toBeLessThan(top(v.baselineCurve) - 0.02);
    // The baseline, in its own process on its own device, keeps its usual recall (>= 0.93 measured).
    expect(top(v.baselineCurve)).toBeGreaterThan(0.9);
  }, LONG);

  /** A host that defers GPU work: an ok verdict with no gain its interval supports (the loop's rule). */
  const expectPaysForDeferredWork = async (hostName: string) => {
    const v = noBetter(await evaluate(searchVariant(), { ...LIGHT, childEntry: host(hostName) }));
    expect(v.status, v.reason).toBe('ok');
    expect(v.interval!.lo, v.reason).toBeLessThan(1);
    expect(v.reward!, v.reason).toBeLessThan(1);
  };

  // 8 extra searches after each answer: measured 0.53-0.55. On lavapipe the stopped child's "GPU"
  // stops with it, so the deferred work also lands in its own next call without the drains
  // (planted: 0.87); on a real GPU queued work runs while its process is stopped, and only the
  // drains inside the timed call charge it (isolation.timed.test.ts checks every timed call drains).
  it('a host that leaves GPU work queued pays for it in the drain', () => expectPaysForDeferredWork('queued-host'), LONG);

  // Its deferred work lands in its own timed calls (measured 0.861 [0.366, 1.067] quiet; the
  // stopped state itself is checked in isolation.timed.test.ts).
  it('a host that queues GPU work on a timer after its drain pays for it too (idle children are stopped)', () => expectPaysForDeferredWork('late-queued-host'), LONG);
});
