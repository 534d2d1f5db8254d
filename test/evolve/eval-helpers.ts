/**
 * Shared by the evaluator tests (evaluate.timed.test.ts, graph-variant.timed.test.ts): a temp folder and the
 * small synthetic set per file, variant folders made from the baseline with exact text edits, and
 * evaluateVariant at the small settings those tests use, and the self-vs-self check.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initVariant } from '../../src/evolve/variant-init.ts';
import { evaluateVariant, type EvaluateOptions } from '../../src/evolve/evaluate.ts';
import type { Verdict } from '../../src/evolve/contract.ts';
import type { ModuleName } from '../../src/bundle/module-manifest.ts';
import { loadDataset } from '../../src/data/resolve.ts';
import type { Dataset } from '../../src/data/types.ts';

/** Registers beforeAll/afterAll for this file: `ctx.tmp` (removed after) and `ctx.ds` (synthetic-2k-d32-q50). */
export function evalContext(prefix: string): { tmp: string; ds: Dataset } {
  const ctx = {} as { tmp: string; ds: Dataset };
  beforeAll(async () => {
    ctx.tmp = mkdtempSync(join(tmpdir(), prefix));
    ctx.ds = await loadDataset('synthetic-2k-d32-q50');
  });
  afterAll(() => rmSync(ctx.tmp, { recursive: true, force: true }));
  return ctx;
}

/** `text` with each exact replacement applied; a SEARCH text that no longer occurs fails the test. */
export function applyEdits(text: string, edits: [string, string][], file: string): string {
  let src = text;
  for (const [from, to] of edits) {
    expect(src.includes(from), `${file} no longer contains: ${from}`).toBe(true);
    src = src.replace(from, to);
  }
  return src;
}

let counter = 0;
/** A fresh `variant init` folder of `module` under `root`, with `file` edited. */
export function editedVariant(root: string, module: ModuleName, file: string, edits: [string, string][] = []): string {
  const dir = join(root, `${module}-${counter++}`);
  initVariant(module, dir);
  const path = join(dir, file);
  writeFileSync(path, applyEdits(readFileSync(path, 'utf8'), edits, file));
  return dir;
}

/** evaluateVariant at the tests' small settings; `extra` overrides any of them. */
export function evaluateSmall(variantDir: string, ds: Dataset, extra: Partial<EvaluateOptions> = {}): Promise<Verdict> {
  return evaluateVariant({
    variantDir, dataset: ds, queriesPerCall: 32, reps: 6, maxRounds: 8, efforts: [3, 6, 10], maxPoints: 5, probeQueries: 32, probeEffort: 10, recallFloor: 0.7,
    timeouts: { compileMs: 240_000, correctnessMs: 60_000, callMs: 60_000 }, ...extra,
  });
}

/** Where the reward of a module against itself may fall on a loaded 2-core machine (measured 0.7-1.4). */
export const SPREAD = { lo: 0.5, hi: 2.0 };

/**
 * A variant with the baseline's code and knobs: an ok verdict, a reward within SPREAD, and the
 * same recall as the baseline (within 0.05) at every effort both curves measured (same seeded,
 * single-thread graph).
 */
export function expectSelfVsSelf(v: Verdict): void {
  expect(v.status, v.reason).toBe('ok');
  expect(v.reward!).toBeGreaterThan(SPREAD.lo);
  expect(v.reward!).toBeLessThan(SPREAD.hi);
  for (const p of v.variantCurve) {
    const b = v.baselineCurve.find((x) => x.effort === p.effort);
    if (b) expect(Math.abs(p.recall - b.recall), `effort ${p.effort}`).toBeLessThan(0.05);
  }
}
