/**
 * A graph variant's prune.ts really runs: the parent materialises it (imports rewritten to the
 * project's src/graph/), buildGraph prunes with it on the calling thread and in workers, and the
 * pruned graph is checked. End to end on real Dawn (lavapipe): a variant that keeps 4 edges per
 * row measures worse than the baseline; one that throws fails at compile; one that writes an
 * out-of-range id fails the graph check; an unmodified `variant init` folder scores ~1.
 */
import { describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initVariant } from '../../src/evolve/variant-init.ts';
import type { EvaluateOptions } from '../../src/evolve/evaluate.ts';
import { materialisePrune, rewriteRelativeImports, PRUNE_HOME } from '../../src/evolve/graph-variant.ts';
import { REPO_ROOT } from '../../src/bundle/baseline.ts';
import { verdictSchema, type Verdict } from '../../src/evolve/contract.ts';
import { buildGraph, checkPrunedGraph } from '../../src/graph/build.ts';
import { loadOps } from '../../src/graph/build-worker.ts';
import { checkGraph, NO_NEIGHBOR } from '../../src/graph/graph.ts';
import { gaussianMixture } from '../graph/helpers.ts';
import { applyEdits, editedVariant, evalContext, evaluateSmall, expectSelfVsSelf, SPREAD } from './eval-helpers.ts';

const LONG = 600_000;
/** Self-vs-self reward spread at these settings (test/evolve/evaluate.timed.test.ts, loaded 2-core machine). */
const PRUNE_SRC = readFileSync(join(REPO_ROOT, 'src', 'graph', 'prune.ts'), 'utf8');
// The end of prune.merge's per-row loop: edits after it change every row the op writes.
const MERGE_ROW_END = `      for (let t = protectedEdges; t < d && k < d; t++) {
        const x = pruned[row + t];
        if (!contains(out, row, k, x)) out[row + k++] = x;
      }
`;
const KEEP4 = `${MERGE_ROW_END}      out.fill(0xffffffff, row + 4, row + d);\n`;
const DETOUR_START = `    const a = ctx.arena;\n    const lists = a.lists;\n`;

const edited = (edits: [string, string][]) => applyEdits(PRUNE_SRC, edits, 'prune.ts');

const ctx = evalContext('crinn-graph-variant-test-');
const graphVariant = (edits: [string, string][] = []) => editedVariant(ctx.tmp, 'graph', 'prune.ts', edits);
const evaluate = (variantDir: string, extra: Partial<EvaluateOptions> = {}) => evaluateSmall(variantDir, ctx.ds, { efforts: [4, 10], maxPoints: 2, seed: 7, ...extra });

describe('prune module loading', () => {
  it('rewrites relative .ts specifiers to src/graph/ file URLs and leaves the rest', () => {
    const src = [
      "import type { WorkerPool } from './pool.ts';",
      'import { distance } from "../data/metric.ts";',
      "export { rng } from './rng.ts';",
      "const m = await import('./graph.ts');",
      "import './side-effect.ts';",
      "import { readFileSync } from 'node:fs';",
      "import data from './table.json';",
      "const s = 'from ./pool.ts';",
    ].join('\n');
    const out = rewriteRelativeImports(src).split('\n');
    const home = pathToFileURL(join(REPO_ROOT, 'src', 'graph')).href;
    expect(PRUNE_HOME).toBe(`${home}/`);
    expect(out[0]).toBe(`import type { WorkerPool } from '${home}/pool.ts';`);
    expect(out[1]).toBe(`import { distance } from "${pathToFileURL(join(REPO_ROOT, 'src', 'data')).href}/metric.ts";`);
    expect(out[2]).toBe(`export { rng } from '${home}/rng.ts';`);
    expect(out[3]).toBe(`const m = await import('${home}/graph.ts');`);
    expect(out[4]).toBe(`import '${home}/side-effect.ts';`);
    expect(out.slice(5)).toEqual(["import { readFileSync } from 'node:fs';", "import data from './table.json';", "const s = 'from ./pool.ts';"]);
  });

  it('rejects pruneOps that would replace other ops, and a module without cagraOptimize', async () => {
    const dir = mkdtempSync(join(ctx.tmp, 'ops-'));
    const bad = join(dir, 'bad.mts');
    writeFileSync(bad, "export const pruneOps = { 'nnd.join': () => null };\nexport const cagraOptimize = 1;\n");
    await expect(loadOps(pathToFileURL(bad).href)).rejects.toThrow(/pruneOps\.nnd\.join: worker ops must be keyed 'prune\.\*'/);
    const base = gaussianMixture(300, 8, 4, 0.5, 1);
    const noFn = materialisePrune("export const pruneOps = {};\n", dir, 'nofn');
    await expect(buildGraph(base, 'l2', { threads: 1 }, { quiet: true, pruneModule: noFn.url })).rejects.toThrow(/does not export a function cagraOptimize/);
  });

  it('the graph check names out-of-range ids, self loops and duplicates, and moves padding to the row ends', () => {
    const N = NO_NEIGHBOR;
    expect(() => checkPrunedGraph(new Uint32Array([1, 2, 0, 7, 0, 1]), 3, 2)).toThrow(/row 1 slot 1 holds id 7, outside \[0, 3\)/);
    expect(() => checkPrunedGraph(new Uint32Array([1, 2, 1, 0, 0, 1]), 3, 2)).toThrow(/row 1 slot 0 is a self loop/);
    expect(() => checkPrunedGraph(new Uint32Array([1, 1, 2, 0, 0, 1]), 3, 2)).toThrow(/row 0 holds id 1 twice/);
    const g = new Uint32Array([N, 1, 2, N, 0, N, 0, N, 1]);
    checkPrunedGraph(g, 3, 3);
    expect([...g]).toEqual([1, 2, N, 0, N, N, 0, 1, N]);
  });

  // 4200 vectors: two threads (the build needs 2000 per thread), so workers load the module too.
  // (The evaluator builds on one thread for reproducibility, knob-params.ts: only this covers workers.)
  it.each([1, 2])('buildGraph prunes with the given module (threads %i): baseline copy identical, a 4-edge prune shows', async (threads) => {
    const base = gaussianMixture(threads === 1 ? 1500 : 4200, 16, 10, 0.5, 5);
    const params = { threads, graphDegree: 16, intermediateDegree: 32, seed: 3 };
    const shipped = await buildGraph(base, 'l2', params, { quiet: true });
    expect(shipped.stats.threads).toBe(threads);
    const copy = materialisePrune(PRUNE_SRC, ctx.tmp, `copy${threads}`);
    const same = await buildGraph(base, 'l2', params, { quiet: true, pruneModule: copy.url });
    if (threads === 1) expect(same.graph.neighbors).toEqual(shipped.graph.neighbors); // deterministic only on one thread
    expect(checkGraph(same.graph).meanDegree).toBeGreaterThan(15);
    const keep4 = materialisePrune(edited([[MERGE_ROW_END, KEEP4]]), ctx.tmp, `keep${threads}`);
    const thin = await buildGraph(base, 'l2', params, { quiet: true, pruneModule: keep4.url });
    const c = checkGraph(thin.graph);
    // 4 pruned edges per row, plus the few bridges connectivity adds; padding at the row ends.
    expect(c.meanDegree).toBeLessThan(4.2);
    expect(c.holes + c.selfLoops + c.duplicates + c.outOfRange).toBe(0);
    const broken = materialisePrune(edited([[DETOUR_START, `    throw new Error('planted prune failure');\n${DETOUR_START}`]]), ctx.tmp, `throw${threads}`);
    // From a worker the error comes back through the pool (its prefix): the worker ran the variant.
    await expect(buildGraph(base, 'l2', params, { quiet: true, pruneModule: broken.url })).rejects.toThrow(threads === 2 ? /^graph build worker: planted prune failure/ : /^planted prune failure/);
  }, 120_000);
});

describe('graph variants in the evaluator', () => {
  it('a prune keeping 4 edges per row measures worse: lower recall at the same effort', async () => {
    const v = verdictSchema.parse(await evaluate(graphVariant([[MERGE_ROW_END, KEEP4]]), { recallFloor: 0 }));
    expect(v.status, v.reason).toBe('ok');
    console.log(`keep-4 prune: reward ${v.reward}, variant ${JSON.stringify(v.variantCurve)}, baseline ${JSON.stringify(v.baselineCurve)}`);
    let shared = 0;
    for (const p of v.variantCurve) {
      const b = v.baselineCurve.find((x) => x.effort === p.effort);
      if (!b) continue;
      shared++;
      expect(p.recall, `effort ${p.effort}`).toBeLessThan(b.recall - 0.1);
    }
    expect(shared).toBeGreaterThan(0);
    expect(v.reward!).toBeLessThan(SPREAD.lo);
  }, LONG);

  it('later stages search on the best graph variant built with its own code (in a sandbox child), on both sides', async () => {
    const search = join(ctx.tmp, 'search-on-keep4');
    initVariant('search', search);
    const keep8 = graphVariant([[MERGE_ROW_END, `${MERGE_ROW_END}      out.fill(0xffffffff, row + 8, row + d);\n`]]);
    const v = verdictSchema.parse(await evaluate(search, { recallFloor: 0, efforts: [4, 10, 32], maxPoints: 3, context: { graph: keep8 } }));
    expect(v.status, v.reason).toBe('ok');
    console.log(`search on the 8-edge graph: baseline ${JSON.stringify(v.baselineCurve)}`);
    // The 8-edge graph lowers recall on both sides (the baseline graph: 0.80 at effort 4, 0.97 at 10).
    const at = (c: Verdict['baselineCurve'], e: number) => c.find((p) => p.effort === e)?.recall ?? NaN;
    for (const c of [v.baselineCurve, v.variantCurve]) {
      expect(at(c, 4)).toBeLessThan(0.7);
      expect(at(c, 10)).toBeLessThan(0.9);
    }
  }, LONG);

  it('a prune that throws fails at compile with its message', async () => {
    const v = await evaluate(graphVariant([[DETOUR_START, `    throw new Error('planted prune failure');\n${DETOUR_START}`]]));
    console.log(`throwing prune: ${v.stage}: ${v.reason}`);
    expect([v.status, v.stage]).toEqual(['failed', 'compile']);
    expect(v.reason).toMatch(/planted prune failure/);
  }, LONG);

  it('a prune that writes an out-of-range id fails the graph check', async () => {
    const v = await evaluate(graphVariant([[MERGE_ROW_END, `${MERGE_ROW_END}      out[row] = 999999;\n`]]));
    console.log(`out-of-range prune: ${v.stage}: ${v.reason}`);
    expect([v.status, v.stage]).toEqual(['failed', 'compile']);
    expect(v.reason).toMatch(/graph check after pruning: row \d+ slot 0 holds id 999999, outside \[0, 2000\)/);
  }, LONG);

  it('an unmodified variant init folder scores ~1', async () => {
    const dir = join(ctx.tmp, 'plain');
    initVariant('graph', dir);
    const v = verdictSchema.parse(await evaluate(dir));
    console.log(`unmodified graph: reward ${v.reward}`);
    expectSelfVsSelf(v);
  }, LONG);

});

/**
 * A graph variant's prune.ts is untrusted host code: it runs only in a throwaway build child, and
 * everything that child returns but the pruned rows must equal the harness's own build.
 */
describe('graph variant attacks', () => {
  // Appended to the shipped prune.ts: ESM hoists the imports, the statements run at import.
  const withCode = (code: string) => {
    const dir = graphVariant();
    appendFileSync(join(dir, 'prune.ts'), `\n${code}\n`);
    return dir;
  };
  // Rewrites the build child's reply on its way out: JSON.stringify is what the wire uses.
  const forging = (mutate: string) => withCode(`const realStringify = JSON.stringify;
JSON.stringify = function (value: any, ...rest: any[]) {
  const idx = value?.t === 'reply' ? value.result : undefined;
  if (idx && idx.entryLayer) { ${mutate} }
  return (realStringify as any).call(JSON, value, ...rest);
} as typeof JSON.stringify;`);

  it('a prune.ts that patches the search cannot reach the child that answers the timed calls', async () => {
    // Imported into the answering child (as it once was), this fails every search; a CPU search
    // patched in the same way scored 2.7-4.1x there.
    const dir = withCode(`import { GpuSearcher } from '../search/gpu-search.ts';
GpuSearcher.prototype.search = async function () { throw new Error('planted: the search was patched by prune.ts'); };`);
    const v = verdictSchema.parse(await evaluate(dir));
    expect(v.status, v.reason).toBe('ok');
    expect(v.reason).not.toMatch(/planted/);
    // Its graph is the baseline's: no gain the interval supports.
    expect(v.interval!.lo, v.reason).toBeLessThan(1.15);
  }, LONG);

  it('a prune.ts that forges the metric of the returned index fails correctness', async () => {
    const v = await evaluate(forging(`idx.metric = 'ip';`));
    expect([v.status, v.stage], v.reason).toEqual(['failed', 'correctness']);
    expect(v.reason).toMatch(/returned index's metric differs from the harness's/);
  }, LONG);

  it('a prune.ts that forges the entry layer fails correctness', async () => {
    // Every node an entry: a search that starts next to its answer.
    const v = await evaluate(forging(`idx.entryLayer = { ...idx.entryLayer, ids: Uint32Array.from({ length: idx.n }, (_, i) => i) };`));
    expect([v.status, v.stage], v.reason).toEqual(['failed', 'correctness']);
    expect(v.reason).toMatch(/returned index's entry layer differs from the harness's/);
  }, LONG);
});
