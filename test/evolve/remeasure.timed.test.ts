/**
 * The re-measure of a surprising result: a reward above `remeasureAbove` is measured once more and
 * the lower of the two kept, so one lucky (or gamed) evaluation cannot enter the loop's history.
 * The host here is fast (honest, reward ~1) in its first evaluation only and ~10x slower in any
 * later one (first-fast-host.ts; the test tells each of its children which it is through the
 * sandbox's environment). With the threshold set low, the verdict must keep the slow reward and
 * say it was re-measured; with the re-measure removed, the first reward (~1) comes back and this fails.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../../src/evolve/sandbox.ts';
import { editedVariant, evalContext, evaluateSmall } from './eval-helpers.ts';

const HOST = fileURLToPath(new URL('./fixtures/variants/first-fast-host.ts', import.meta.url));
const LONG = 900_000;
/**
 * Between the host's two speeds: its fast evaluation is the baseline's own code (self-vs-self
 * rewards 0.57-1.62 measured on a loaded 2-core machine), its slow one ~1/10 of that.
 */
const THRESHOLD = 0.35;

const ctx = evalContext('crinn-remeasure-test-');
afterEach(() => {
  vi.restoreAllMocks();
});

describe('evaluateVariant re-measures a surprising reward', () => {
  it('a host that is fast only in its first evaluation ends with the lower reward, and the reason says it was re-measured', async () => {
    const realStart = Sandbox.start.bind(Sandbox);
    const variantChildren: string[] = [];
    vi.spyOn(Sandbox, 'start').mockImplementation((o) => {
      if (o.entry !== HOST) return realStart(o);
      const slow = variantChildren.length === 0 ? '0' : '1';
      variantChildren.push(slow);
      return realStart({ ...o, env: { ...o.env, CRINN_TEST_SLOW: slow } });
    });
    const v = await evaluateSmall(editedVariant(ctx.tmp, 'search', 'beam_search.wgsl'), ctx.ds, {
      efforts: [4, 10], maxPoints: 2, childEntry: HOST, remeasureAbove: THRESHOLD, seed: 7,
    });
    expect(v.status, v.reason).toBe('ok');
    // Measured twice: the variant's child started once per evaluation, fast then slow.
    expect(variantChildren, `the variant's child per evaluation (0 fast, 1 slow); verdict: ${v.reason}`).toEqual(['0', '1']);
    expect(v.reason).toMatch(/re-measured/);
    expect(v.reward!, v.reason).toBeLessThan(THRESHOLD);
    expect(v.reward!, v.reason).toBeGreaterThan(0);
  }, LONG);

  it('a reward at or below the threshold is measured once', async () => {
    const realStart = Sandbox.start.bind(Sandbox);
    let variantChildren = 0;
    vi.spyOn(Sandbox, 'start').mockImplementation((o) => {
      if (o.entry !== HOST) return realStart(o);
      variantChildren++;
      return realStart({ ...o, env: { ...o.env, CRINN_TEST_SLOW: '1' } });
    });
    const v = await evaluateSmall(editedVariant(ctx.tmp, 'search', 'beam_search.wgsl'), ctx.ds, {
      efforts: [4, 10], maxPoints: 2, childEntry: HOST, remeasureAbove: THRESHOLD, seed: 7,
    });
    expect(v.status, v.reason).toBe('ok');
    expect(v.reward!, v.reason).toBeLessThan(THRESHOLD);
    expect(variantChildren).toBe(1);
    expect(v.reason).not.toMatch(/re-measured/);
  }, LONG);
});
